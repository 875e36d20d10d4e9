import { initTRPC, TRPCError } from '@trpc/server';
import { ZodError } from 'zod';
import type { Role } from '../db/schema';
import { errorMessage, log } from '../log';
import { auditDetailFromInput, writeAudit, type AuditOutcome } from '../security/audit';
import { crossSiteRefusal } from '../security/csrf';
import { DomainError } from '../security/errors';
import type { ApiContext } from './context';

const t = initTRPC.context<ApiContext>().create({
  // Last line of defence (errors raised outside procedures, e.g. while building the context).
  errorFormatter({ shape, error }) {
    const { stack: _stack, ...data } = shape.data;
    return error.code === 'INTERNAL_SERVER_ERROR' ? { ...shape, message: 'Internal error', data } : { ...shape, data };
  },
});
export const router = t.router;

/** "field: message" for the first few zod issues, instead of the issue list as JSON. */
function zodMessage(e: ZodError): string {
  return e.issues
    .slice(0, 3)
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

/**
 * The one place errors become what a client sees: a DomainError keeps its code and message, input
 * errors say which field, and anything unexpected is logged here (path and message, never input) and
 * reaches the client only as "Internal error".
 */
const mapErrors = t.middleware(async ({ next, path }) => {
  const result = await next();
  if (result.ok) return result;
  const error = result.error;
  const cause = error.cause;
  if (cause instanceof DomainError) throw new TRPCError({ code: cause.code, message: cause.message, cause });
  if (cause instanceof ZodError) throw new TRPCError({ code: 'BAD_REQUEST', message: zodMessage(cause), cause });
  if (error.code !== 'INTERNAL_SERVER_ERROR') return result;
  log.error('api procedure failed', { path, error: errorMessage(cause ?? error) });
  throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'Internal error' });
});

function outcomeOf(error: TRPCError): AuditOutcome {
  const code = error.cause instanceof DomainError ? error.cause.code : error.code;
  return code === 'UNAUTHORIZED' || code === 'FORBIDDEN' ? 'denied' : 'failure';
}

/** auth.signIn audits itself (with the email tried) for everything past input validation. */
const SELF_AUDITED = new Set(['auth.signIn']);

/**
 * Mutations only: refuse cross-site requests, then write one audit row per call, with its outcome and
 * the input's ids and flags (never passwords, keys or content; see auditDetailFromInput).
 */
const guardMutations = t.middleware(async ({ ctx, type, path, next, getRawInput }) => {
  if (type !== 'mutation') return next();
  const raw = await getRawInput().catch(() => undefined);
  const input = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  const audit = (outcome: AuditOutcome, data?: Record<string, unknown>, errorCode?: string) =>
    writeAudit(ctx.db, {
      actorUserId: ctx.user?.id,
      actorLabel: ctx.user?.email,
      action: path,
      target: typeof input.id === 'string' ? input.id : typeof data?.id === 'string' ? data.id : undefined,
      clientAddress: ctx.clientAddress,
      outcome,
      detail: { ...auditDetailFromInput(input), ...(errorCode ? { error: errorCode } : {}) },
    });

  const refusal = crossSiteRefusal(ctx.req);
  if (refusal) {
    await audit('denied', undefined, 'CROSS_SITE');
    throw refusal;
  }
  const result = await next();
  if (result.ok) {
    if (!SELF_AUDITED.has(path)) await audit('success', result.data as Record<string, unknown> | undefined);
  } else if (!(SELF_AUDITED.has(path) && result.error.cause instanceof DomainError)) {
    await audit(outcomeOf(result.error), undefined, result.error.cause instanceof DomainError ? result.error.cause.code : result.error.code);
  }
  return result;
});

/**
 * Queries that read other people's data (the user list, the audit trail): each call leaves an audit
 * row, so an auditor can see who looked, not only who changed something.
 */
const AUDITED_READS = new Set(['users.list', 'audit.list', 'audit.verify']);

const auditReads = t.middleware(async ({ ctx, type, path, next }) => {
  if (type !== 'query' || !AUDITED_READS.has(path)) return next();
  const result = await next();
  await writeAudit(ctx.db, {
    actorUserId: ctx.user?.id,
    actorLabel: ctx.user?.email,
    action: path,
    clientAddress: ctx.clientAddress,
    outcome: result.ok ? 'success' : outcomeOf(result.error),
    detail: { read: true },
  });
  return result;
});

export const publicProcedure = t.procedure.use(mapErrors).use(guardMutations).use(auditReads);

export const authedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.user) throw new DomainError('UNAUTHORIZED', 'Sign in first');
  return next({ ctx: { ...ctx, user: ctx.user } });
});

/** A procedure only the given roles may call; checked on the server for every call. */
export function roleProcedure(...roles: Role[]) {
  return authedProcedure.use(({ ctx, next }) => {
    if (!roles.includes(ctx.user.role)) throw new DomainError('FORBIDDEN', `This needs the role ${roles.join(' or ')}`);
    return next();
  });
}
