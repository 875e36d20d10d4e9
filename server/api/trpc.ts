import { initTRPC, TRPCError } from '@trpc/server';
import { ZodError } from 'zod';
import { withCommitHooks } from '../db/after-commit';
import type { Db } from '../db/client';
import type { Role } from '../db/schema';
import { errorMessage, log } from '../core/log';
import { auditDetailFromInput, writeAudit, type AuditOutcome } from '../security/audit';
import { crossSiteRefusal } from '../security/csrf';
import { auditRefusal } from '../security/denial-audit';
import { DomainError } from '../core/errors';
import { describeInputProblem, findInputProblem } from '../core/json-input';
import type { ApiContext } from './context';
import { auditedStream, isStream, publicStream, StreamAudit } from './streamed';
import { plainErrorShape, transformer } from './transformer';

/** What a procedure declares about itself beyond its input and roles. */
export interface ProcedureMeta {
  /**
   * Its answer is a stream of events (chat, arena): no transaction can stay open for the whole of it, so
   * the procedure audits its own success (see StreamAudit) and the guard audits every failure. The cap
   * is its request body's (http.ts reads it before tRPC does).
   */
  stream?: { maxBodyBytes: number };
}

// A quiet stream (a long prompt before the first token, a job between steps) still shows it is alive
// to every proxy on the way, as the hand-written event streams did.
const KEEPALIVE_MS = 15_000;

const t = initTRPC
  .context<ApiContext>()
  .meta<ProcedureMeta>()
  .create({
    transformer,
    jsonl: { pingMs: KEEPALIVE_MS },
    sse: { ping: { enabled: true, intervalMs: KEEPALIVE_MS } },
    // Last line of defence (errors raised outside procedures, e.g. while building the context).
    errorFormatter({ shape, error }) {
      const { stack: _stack, ...data } = shape.data;
      return plainErrorShape(error.code === 'INTERNAL_SERVER_ERROR' ? { ...shape, message: 'Internal error', data } : { ...shape, data });
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

/** What a client sees of an error: a DomainError's code and message, the field of an input error, else "Internal error" (logged here). */
function publicError(error: unknown, path: string): TRPCError {
  const cause = error instanceof TRPCError ? error.cause : error;
  if (cause instanceof DomainError) return new TRPCError({ code: cause.code, message: cause.message, cause });
  if (cause instanceof ZodError) return new TRPCError({ code: 'BAD_REQUEST', message: zodMessage(cause), cause });
  if (error instanceof TRPCError && error.code !== 'INTERNAL_SERVER_ERROR') return error;
  log.error('api procedure failed', { path, error: errorMessage(cause ?? error) });
  return new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'Internal error' });
}

/**
 * The one place errors become what a client sees: a DomainError keeps its code and message, input
 * errors say which field, and anything unexpected is logged here (path and message, never input) and
 * reaches the client only as "Internal error". Errors a stream throws after it started go the same way.
 */
const mapErrors = t.middleware(async ({ next, path }) => {
  const result = await next();
  if (result.ok) return isStream(result.data) ? { ...result, data: publicStream(result.data, (e) => publicError(e, path)) } : result;
  const mapped = publicError(result.error, path);
  if (mapped === result.error) return result;
  throw mapped;
});

function outcomeOf(error: TRPCError): AuditOutcome {
  const code = error.cause instanceof DomainError ? error.cause.code : error.code;
  return code === 'UNAUTHORIZED' || code === 'FORBIDDEN' ? 'denied' : 'failure';
}

function errorCodeOf(error: TRPCError): string {
  return error.cause instanceof DomainError ? error.cause.code : error.code;
}

/** auth.signIn audits itself (with the email tried) for everything past input validation. */
const SELF_AUDITED = new Set(['auth.signIn']);

type InputParser = { safeParseAsync(v: unknown): Promise<{ success: boolean; data?: unknown }> };
type ProcedureDef = { _def: { inputs: InputParser[]; meta?: ProcedureMeta } };
let procedureInputs: Record<string, readonly InputParser[]> = {};
let bodyLimits: Record<string, number> = {};

/**
 * Called once with the app router, so the mutation guard can read an input as its procedure will, and
 * the HTTP handler can cap a body by what it calls before reading it.
 */
export function registerProcedures(appRouter: { _def: { procedures: Record<string, unknown> } }): void {
  const procedures = Object.entries(appRouter._def.procedures as Record<string, ProcedureDef>);
  procedureInputs = Object.fromEntries(procedures.map(([path, p]) => [path, p._def.inputs]));
  bodyLimits = Object.fromEntries(procedures.flatMap(([path, p]) => (p._def.meta?.stream ? [[path, p._def.meta.stream.maxBodyBytes]] : [])));
}

/** A procedure's own cap on its request body, if it declares one (the streamed ones do). */
export function bodyLimitOf(path: string): number | undefined {
  return bodyLimits[path];
}

/** The input as the procedure's schemas leave it: unknown keys dropped, so they never reach the audit row. */
async function parsedInput(path: string, raw: unknown): Promise<Record<string, unknown>> {
  let merged: Record<string, unknown> = {};
  for (const parser of procedureInputs[path] ?? []) {
    // A parser that throws its own error (chat and arena name the bad field) is simply not parsed here.
    const result = await parser.safeParseAsync(raw).catch(() => ({ success: false, data: undefined }));
    if (!result.success || !result.data || typeof result.data !== 'object') return {};
    merged = { ...merged, ...(result.data as Record<string, unknown>) };
  }
  return merged;
}

/** Thrown out of a transaction to roll it back when its procedure failed. */
const ROLL_BACK = new Error('roll back');

/**
 * Every call: the raw input is refused (400, naming the field) when it nests too deep or holds a string
 * PostgreSQL cannot store (NUL) or UTF-8 cannot carry (a lone surrogate), before anything reads it.
 *
 * Mutations also: refuse cross-site requests; then run the procedure and write its audit row in ONE
 * transaction, so a change is never committed without its row (and a failing audit write undoes the
 * change). The row keeps the input's ids and flags as the procedure's schema parsed them (never
 * passwords, keys or content; see auditDetailFromInput). A failed call rolls back and is audited on its
 * own; refusals of anonymous callers are counted and sampled (see denial-audit.ts). Work that other
 * processes act on (queues, pub/sub) waits for the commit through afterCommit.
 */
const guard = t.middleware(async ({ ctx, type, path, meta, signal, next, getRawInput }) => {
  const raw = await getRawInput().catch(() => undefined);
  const problem = findInputProblem(raw);
  if (type !== 'mutation') {
    if (problem) throw new DomainError('BAD_REQUEST', describeInputProblem(problem));
    return next();
  }
  const entry = (outcome: AuditOutcome, detail: Record<string, unknown>, target?: string) => ({
    actorUserId: ctx.user?.id,
    actorLabel: ctx.user?.email,
    action: path,
    target,
    clientAddress: ctx.clientAddress,
    outcome,
    detail,
  });
  const refuse = async (error: DomainError) => {
    const code = error.code;
    await auditRefusal(ctx.db, { ...entry(error.status === 401 || error.status === 403 ? 'denied' : 'failure', { error: code }), reason: code });
    throw error;
  };

  const crossSite = crossSiteRefusal(ctx.req, ctx.env);
  if (crossSite) return refuse(crossSite);
  if (problem) return refuse(new DomainError('BAD_REQUEST', describeInputProblem(problem)));
  if (SELF_AUDITED.has(path)) return next();
  if (meta?.stream) {
    const audit = new StreamAudit((outcome, detail, target) => entry(outcome, detail, target));
    const result = await next({ ctx: { streamAudit: audit } });
    if (!result.ok) {
      const input = await parsedInput(path, raw);
      const code = errorCodeOf(result.error);
      await auditRefusal(ctx.db, { ...entry(outcomeOf(result.error), { ...auditDetailFromInput(input), error: code }), reason: code });
      return result;
    }
    if (!isStream(result.data)) throw new Error(`${path} is declared a stream but answered something else`);
    return { ...result, data: auditedStream(result.data, audit, signal, (row) => auditRefusal(ctx.db, row)) };
  }

  let failed: Extract<Awaited<ReturnType<typeof next>>, { ok: false }> | undefined;
  try {
    return await withCommitHooks(() =>
      ctx.db.transaction(async (tx) => {
        const result = await next({ ctx: { db: tx as unknown as Db } });
        if (!result.ok) {
          failed = result;
          throw ROLL_BACK;
        }
        const input = await parsedInput(path, raw);
        const data = result.data as Record<string, unknown> | undefined;
        const target = typeof input.id === 'string' ? input.id : typeof data?.id === 'string' ? data.id : undefined;
        await writeAudit(tx, entry('success', auditDetailFromInput(input), target));
        return result;
      }),
    );
  } catch (e) {
    if (e !== ROLL_BACK || !failed) throw e;
    const input = await parsedInput(path, raw);
    const code = errorCodeOf(failed.error);
    const detail = { ...auditDetailFromInput(input), error: code };
    await auditRefusal(ctx.db, { ...entry(outcomeOf(failed.error), detail, typeof input.id === 'string' ? input.id : undefined), reason: code });
    return failed;
  }
});

/**
 * Queries that read other people's data (the user list, the audit trail): each call leaves an audit
 * row, so an auditor can see who looked, not only who changed something.
 */
// Reads of other people's data: who looked is itself on record.
const AUDITED_READS = new Set(['users.list', 'users.sessions', 'users.erasureReports', 'groups.members', 'audit.list', 'audit.verify', 'audit.exportAnchors', 'usage.summary', 'usage.csv']);

const auditReads = t.middleware(async ({ ctx, type, path, next, getRawInput }) => {
  if (type !== 'query' || !AUDITED_READS.has(path)) return next();
  const result = await next();
  // Whose data was read, when the query names someone or something (users.sessions {id}).
  const input = (await getRawInput().catch(() => undefined)) as { id?: unknown } | undefined;
  const target = typeof input?.id === 'string' ? input.id.slice(0, 100) : undefined;
  const row = { actorUserId: ctx.user?.id, actorLabel: ctx.user?.email, action: path, target, clientAddress: ctx.clientAddress };
  if (result.ok) await writeAudit(ctx.db, { ...row, outcome: 'success', detail: { read: true } });
  else await auditRefusal(ctx.db, { ...row, outcome: outcomeOf(result.error), detail: { read: true, error: errorCodeOf(result.error) }, reason: errorCodeOf(result.error) });
  return result;
});

export const publicProcedure = t.procedure.use(mapErrors).use(guard).use(auditReads);

/** All a session signed in with a one-time password may call until it is changed (auth.me and signOut are public). */
const BEFORE_PASSWORD_CHANGE = new Set(['auth.changePassword']);
const PASSWORD_CHANGE_REQUIRED = 'Change your one-time password first (Account, Password)';

export const authedProcedure = publicProcedure.use(({ ctx, path, next }) => {
  if (!ctx.user) throw new DomainError('UNAUTHORIZED', 'Sign in first');
  if (ctx.user.mustChangePassword && !BEFORE_PASSWORD_CHANGE.has(path)) throw new DomainError('FORBIDDEN', PASSWORD_CHANGE_REQUIRED);
  return next({ ctx: { ...ctx, user: ctx.user } });
});

/**
 * A signed-in call answered with a stream of events (see ProcedureMeta.stream): its body is capped at
 * `maxBodyBytes`, and `ctx.streamAudit` gives it the audit row it writes itself with its last write.
 */
export function streamingProcedure(maxBodyBytes: number) {
  return authedProcedure.meta({ stream: { maxBodyBytes } }).use(({ ctx, next }) => {
    if (!ctx.streamAudit) throw new Error('a streamed procedure runs behind the guard, which audits it');
    return next({ ctx: { streamAudit: ctx.streamAudit } });
  });
}

/** A procedure only the given roles may call; checked on the server for every call. */
export function roleProcedure(...roles: Role[]) {
  return authedProcedure.use(({ ctx, next }) => {
    if (!roles.includes(ctx.user.role)) throw new DomainError('FORBIDDEN', `This needs the role ${roles.join(' or ')}`);
    return next();
  });
}
