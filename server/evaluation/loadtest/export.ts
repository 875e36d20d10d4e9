import type { loadTests, loadTestSamples } from '../../db/schema';
import { publicSpec } from './store';

type SampleRow = typeof loadTestSamples.$inferSelect;
type RunRow = typeof loadTests.$inferSelect;

export const CSV_COLUMNS = ['seq', 'stage', 'start_ms', 'ttft_ms', 'e2e_ms', 'tpot_ms', 'input_tokens', 'output_tokens', 'error', 'itl_ms'] as const;

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  // Quote anything a spreadsheet could split or run as a formula.
  return /[",\n\r]|^[=+\-@\t]/.test(s) && !/^-?\d/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One row per request; itl_ms holds every gap, separated by spaces, so one request stays one row. */
export function samplesToCsv(rows: SampleRow[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows)
    lines.push(
      [r.seq, r.stage, r.startMs, r.ttftMs, r.e2eMs, r.tpotMs, r.inputTokens, r.outputTokens, r.error, (r.itlMs ?? []).map((v) => +v.toFixed(3)).join(' ')]
        .map(csvCell)
        .join(','),
    );
  return lines.join('\n') + '\n';
}

export function runToJson(run: RunRow, rows: SampleRow[]): string {
  return JSON.stringify(
    {
      id: run.id,
      name: run.name,
      status: run.status,
      targetUrl: run.targetUrl,
      model: run.model,
      spec: publicSpec(run.spec),
      summary: run.summary,
      createdAt: run.createdAt,
      startedAt: run.startedAt,
      finishedAt: run.finishedAt,
      samples: rows.map(({ loadTestId: _id, ...s }) => s),
    },
    null,
    1,
  );
}
