import client from 'prom-client';
import type { Db } from '../db/client';
import { metricsRegistry } from '../core/metrics';
import { writeAudit, type AuditEntry } from './audit';

/**
 * Requests refused before anyone signed in cost an attacker nothing, so an audit row each would let
 * anyone write to the audit trail as fast as they can send (and slow every audited change behind the
 * chain's lock). They are all counted (a Prometheus counter by reason), and only a sample is
 * written: at most `perWindow` rows per window in this process, the first row after a quiet stretch
 * saying how many were left out.
 */
export class DenialSampler {
  private windowStart = 0;
  private written = 0;
  private suppressed = 0;

  constructor(
    readonly perWindow = 20,
    readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** null: count it only; otherwise write it, with how many were left out since the last written one. */
  admit(): { suppressedBefore: number } | null {
    const now = this.now();
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.written = 0;
    }
    if (this.written >= this.perWindow) {
      this.suppressed++;
      return null;
    }
    this.written++;
    const suppressedBefore = this.suppressed;
    this.suppressed = 0;
    return { suppressedBefore };
  }
}

const sampler = new DenialSampler();
let counter: client.Counter<'reason'> | undefined;

function denials() {
  counter ??= new client.Counter({
    name: 'enclave_anonymous_denials_total',
    // By reason only: the action can be whatever path an attacker sends, and labels must stay few.
    help: 'Requests refused before sign-in (cross-site, bad input, unauthenticated), by reason',
    labelNames: ['reason'],
    registers: [metricsRegistry()],
  });
  return counter;
}

/**
 * Audits a refusal. Signed-in callers are accountable and always get their row; anonymous ones are
 * counted and sampled (see DenialSampler).
 */
export async function auditRefusal(db: Db, entry: AuditEntry & { reason: string }, opts: { sampler?: DenialSampler } = {}): Promise<void> {
  const { reason, ...row } = entry;
  if (row.actorUserId) return writeAudit(db, row);
  denials().inc({ reason });
  const admitted = (opts.sampler ?? sampler).admit();
  if (!admitted) return;
  await writeAudit(db, { ...row, detail: { ...row.detail, sampled: true, ...(admitted.suppressedBefore ? { suppressedBefore: admitted.suppressedBefore } : {}) } });
}
