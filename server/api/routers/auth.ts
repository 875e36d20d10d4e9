import { z } from 'zod';
import { DomainError } from '../../core/errors';
import { sessionCookie } from '../../security/cookies';
import { changePassword } from '../../security/password-change';
import { deleteSession, listSessions, revokeSession, revokeUserSessions } from '../../security/sessions';
import { oidcSettings } from '../../security/oidc/config';
import { signIn, signInLimiter } from '../../security/sign-in';
import { setUserLocale } from '../../security/users';
import { authedProcedure, publicProcedure, router } from '../trpc';

export const LOCALES = ['en', 'zh-CN'] as const;

function userAgentOf(headers: { 'user-agent'?: string }): string | undefined {
  return headers['user-agent']?.slice(0, 400);
}

export const authRouter = router({
  // Lax on shape: every attempt, even a malformed one, is judged (and audited) by signIn itself.
  signIn: publicProcedure.input(z.object({ email: z.string().max(1000), password: z.string().max(4096) })).mutation(async ({ ctx, input }) => {
    const { user, token } = await signIn(ctx.db, {
      ...input,
      clientAddress: ctx.clientAddress,
      userAgent: userAgentOf(ctx.req.headers),
      sessionHours: ctx.env.ENCLAVE_SESSION_HOURS,
      passwordSignIn: ctx.env.ENCLAVE_PASSWORD_SIGNIN,
    });
    ctx.res.appendHeader('set-cookie', sessionCookie(token, { secure: ctx.env.ENCLAVE_SECURE_COOKIES, maxAge: ctx.env.ENCLAVE_SESSION_HOURS * 3600 }));
    return { user: { id: user.id, email: user.email, name: user.name, role: user.role, locale: user.locale, mustChangePassword: !!user.mustChangePassword } };
  }),

  /** What the login page offers: a button per OIDC provider (id and name only), and whether passwords are taken. */
  signInOptions: publicProcedure.query(({ ctx }) => ({
    providers: oidcSettings(ctx.env).providers.map((p) => ({ id: p.id, name: p.name })),
    password: ctx.env.ENCLAVE_PASSWORD_SIGNIN,
  })),

  signOut: publicProcedure.mutation(async ({ ctx }) => {
    await deleteSession(ctx.db, ctx.sessionToken);
    ctx.res.appendHeader('set-cookie', sessionCookie('', { secure: ctx.env.ENCLAVE_SECURE_COOKIES, maxAge: 0 }));
    return { ok: true };
  }),

  me: publicProcedure.query(({ ctx }) => {
    if (!ctx.user) return null;
    const { id, email, name, role, locale } = ctx.user;
    return { id, email, name, role, locale: locale as (typeof LOCALES)[number], mustChangePassword: !!ctx.user.mustChangePassword };
  }),

  setLocale: authedProcedure.input(z.object({ locale: z.enum(LOCALES) })).mutation(async ({ ctx, input }) => {
    await setUserLocale(ctx.db, ctx.user.id, input.locale);
    return { locale: input.locale };
  }),

  /** The one call a session signed in with a one-time password may make (see trpc.ts). Other sessions end. */
  changePassword: authedProcedure
    .input(z.strictObject({ currentPassword: z.string().max(4096), newPassword: z.string().max(4096) }))
    .mutation(async ({ ctx, input }) => {
      if (!ctx.user.sessionId) throw new DomainError('UNAUTHORIZED', 'Sign in first');
      const { revokedSessions } = await changePassword(ctx.db, {
        userId: ctx.user.id,
        ...input,
        sessionId: ctx.user.sessionId,
        clientAddress: ctx.clientAddress,
        policy: { minLength: ctx.env.ENCLAVE_PASSWORD_MIN_LENGTH, history: ctx.env.ENCLAVE_PASSWORD_HISTORY },
        limiter: signInLimiter(),
      });
      return { ok: true, revokedSessions };
    }),

  /** The caller's own sessions, the current one marked. */
  sessions: authedProcedure.query(({ ctx }) => listSessions(ctx.db, ctx.user.id, ctx.user.sessionId)),

  /** "Sign out everywhere else": every session of the caller but this one. */
  revokeOtherSessions: authedProcedure.mutation(async ({ ctx }) => {
    if (!ctx.user.sessionId) throw new DomainError('UNAUTHORIZED', 'Sign in first');
    return { revokedSessions: await revokeUserSessions(ctx.db, ctx.user.id, ctx.user.sessionId) };
  }),

  /** Ends one of the caller's own sessions: someone else's is "not found". */
  revokeSession: authedProcedure.input(z.strictObject({ id: z.uuid() })).mutation(async ({ ctx, input }) => {
    if (!(await revokeSession(ctx.db, input.id, ctx.user.id))) throw new DomainError('NOT_FOUND', 'No such session');
    return { id: input.id };
  }),
});
