import { DomainError } from '../core/errors';
import { errorMessage, log } from '../core/log';
import type { AuditEntry, AuditOutcome } from '../security/audit';

type Row = (outcome: AuditOutcome, detail: Record<string, unknown>, target?: string) => AuditEntry;

/**
 * The audit row of one streamed call (chat.send, arena.start). The procedure names its target and
 * detail as soon as it knows them, and writes its own row with `entry` in the transaction that ends
 * its work (server/chat/reply-stream.ts), so a process killed mid-stream still leaves exactly one row.
 * Every failure is audited by the guard instead (trpc.ts), with what was named by then.
 */
export class StreamAudit {
  private target: string | undefined;
  private readonly detail: Record<string, unknown> = {};

  constructor(private readonly row: Row) {}

  /** What the audit row names once it is known (a failure after this point is audited with it too). */
  with(fields: { target?: string; detail?: Record<string, unknown> }): void {
    if (fields.target !== undefined) this.target = fields.target;
    Object.assign(this.detail, fields.detail);
  }

  /** The row this call writes; a procedure may name another target in it (the arena's new conversation). */
  readonly entry = (outcome: AuditOutcome, detail: Record<string, unknown>): AuditEntry => this.row(outcome, { ...detail, ...this.detail }, this.target);
}

export function isStream(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

/**
 * The events of a streamed call, auditing how it failed if it does: `denied` for 401/403, `failure`
 * with the error's code, CLIENT_CLOSED when the client left first (the stop button; the reply itself
 * is then saved as stopped and audited by the procedure).
 */
export async function* auditedStream<T>(
  source: AsyncIterable<T>,
  audit: StreamAudit,
  signal: AbortSignal | undefined,
  write: (entry: AuditEntry & { reason: string }) => Promise<void>,
): AsyncGenerator<T, void> {
  try {
    yield* source;
  } catch (e) {
    const domain = e instanceof DomainError ? e : undefined;
    const error = domain?.code ?? (signal?.aborted ? 'CLIENT_CLOSED' : 'INTERNAL');
    const outcome = domain && (domain.status === 401 || domain.status === 403) ? 'denied' : 'failure';
    await write({ ...audit.entry(outcome, { error }), reason: error }).catch((auditError) => log.error('audit write failed', { error: errorMessage(auditError) }));
    throw e;
  }
}

/** The same events, with an error thrown after the stream started turned into what a client may see. */
export async function* publicStream<T>(source: AsyncIterable<T>, toPublic: (error: unknown) => Error): AsyncGenerator<T, void> {
  try {
    yield* source;
  } catch (e) {
    throw toPublic(e);
  }
}
