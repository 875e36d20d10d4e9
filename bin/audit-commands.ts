import fs from 'node:fs';
import { env } from '../server/core/env';
import { auditAnchors, verifyAudit } from '../server/security/audit-anchor';
import { auditAnchorFile, exportAnchors } from '../server/security/audit-anchor-file';
import { options, UsageError } from './args';
import { withInfrastructure } from './infrastructure';

/** A --from/--to value: a date (UTC midnight; --to then takes the whole day) or a full ISO time. */
export function dateFlag(value: string | undefined, flag: string, endOfDay = false): Date | undefined {
  if (value === undefined) return undefined;
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const d = new Date(dateOnly ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(d.getTime())) throw new UsageError(`${flag} must be a date (2026-06-30) or an ISO time, got "${value}"`);
  return dateOnly && endOfDay ? new Date(d.getTime() + 86_400_000 - 1) : d;
}

/** `enclave audit verify [--from DATE] [--to DATE] [--anchors COPY] [--json]`: exit 0 when the log (or the range) is intact, 1 with each problem when not. */
export async function auditVerifyCommand(args: string[]): Promise<number> {
  const { values } = options(args, ['anchors', 'from', 'to'], ['json']);
  const range = { from: dateFlag(values.from, '--from'), to: dateFlag(values.to, '--to', true) };
  if (range.from && range.to && range.to < range.from) throw new UsageError('--to must be on or after --from');
  const result = await withInfrastructure(({ db, masterKey }) =>
    verifyAudit(db, auditAnchors(env(), masterKey), { copies: values.anchors ? [values.anchors] : [], range }),
  );
  if (values.json) {
    process.stdout.write(JSON.stringify(result) + '\n');
    return result.ok ? 0 : 1;
  }
  const out = (line: string) => process.stdout.write(line + '\n');
  const span = result.rows ? ` (#${result.firstId} to #${result.newestId})` : '';
  const scope = range.from || range.to ? ` from ${range.from?.toISOString() ?? 'the start'} to ${range.to?.toISOString() ?? 'now'}` : '';
  const archived = result.archivedRows ? `; ${result.archivedRows} earlier row(s) archived up to #${result.archivedUpToId}` : '';
  if (result.ok) {
    out(`The audit log is intact${scope}: ${result.rows} row(s) chained${span}${archived}; ${result.anchorsMatched} checkpoint(s) in ${result.anchorFile} match${result.latestAnchorAt ? ` (the latest of ${result.latestAnchorAt})` : ''}.`);
    if (result.checkpointWritten) out(`Checkpointed row #${result.checkpointWritten.headId} (${result.checkpointWritten.count} rows).`);
    if (result.checkpointRefused) process.stderr.write(`No checkpoint could be written: ${result.checkpointRefused}\n`);
    return 0;
  }
  out(`The audit log is NOT intact${scope} (${result.rows} row(s)${span}${archived}; anchor file ${result.anchorFile}):`);
  for (const p of result.problems) {
    out(`- ${p.message}`);
    const where = [p.rowId !== undefined ? `row #${p.rowId}` : '', p.line !== undefined ? `anchor line ${p.line}` : ''].filter(Boolean).join(', ');
    if (p.expected !== undefined) out(`    at ${where}: expected ${p.expected}, found ${p.found}`);
    else if (p.expectedRows !== undefined) out(`    at ${where}: expected ${p.expectedRows} row(s) up to it${p.foundRows !== undefined ? `, found ${p.foundRows}` : ''}`);
  }
  return 1;
}

/** `enclave audit export-anchors [--out FILE]`: the anchor file as it is, for a copy this install cannot reach. */
export async function auditExportAnchorsCommand(args: string[]): Promise<number> {
  const { values } = options(args, ['out']);
  const { file, content } = exportAnchors(auditAnchorFile(env()));
  if (!content) process.stderr.write(`No checkpoint has been written to ${file} yet.\n`);
  if (values.out) fs.writeFileSync(values.out, content);
  else process.stdout.write(content);
  return 0;
}
