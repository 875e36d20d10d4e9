import { z } from 'zod';
import { sessionCookie } from '../../security/cookies';
import { deleteSession } from '../../security/sessions';
import { signIn } from '../../security/sign-in';
import { setUserLocale } from '../../security/users';
import { authedProcedure, publicProcedure, router } from '../trpc';

export const LOCALES = ['en', 'zh-CN'] as const;

export const authRouter = router({
  // Lax on shape: every attempt, even a malformed one, is judged (and audited) by signIn itself.
  signIn: publicProcedure.input(z.object({ email: z.string().max(1000), password: z.string().max(4096) })).mutation(async ({ ctx, input }) => {
    const { user, token } = await signIn(ctx.db, { ...input, clientAddress: ctx.clientAddress, sessionHours: ctx.env.ENCLAVE_SESSION_HOURS });
    ctx.res.appendHeader('set-cookie', sessionCookie(token, { secure: ctx.env.ENCLAVE_SECURE_COOKIES, maxAge: ctx.env.ENCLAVE_SESSION_HOURS * 3600 }));
    return { user };
  }),

  signOut: publicProcedure.mutation(async ({ ctx }) => {
    await deleteSession(ctx.db, ctx.sessionToken);
    ctx.res.appendHeader('set-cookie', sessionCookie('', { secure: ctx.env.ENCLAVE_SECURE_COOKIES, maxAge: 0 }));
    return { ok: true };
  }),

  me: publicProcedure.query(({ ctx }) => {
    if (!ctx.user) return null;
    const { id, email, name, role, locale } = ctx.user;
    return { id, email, name, role, locale: locale as (typeof LOCALES)[number] };
  }),

  setLocale: authedProcedure.input(z.object({ locale: z.enum(LOCALES) })).mutation(async ({ ctx, input }) => {
    await setUserLocale(ctx.db, ctx.user.id, input.locale);
    return { locale: input.locale };
  }),
});
