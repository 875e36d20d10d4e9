import type { Db } from '../../db/client';
import type { loadTestSamples } from '../../db/schema';
import type { SessionUser } from '../../security/sessions';
import { bucketize, BUCKETS_MS } from './histograms';
import { publicSpec, requireLoadTest, samplesOf, type StoredSummary } from './store';

type SampleRow = typeof loadTestSamples.$inferSelect;

/** TTFT, ITL, TPOT and E2E histograms over vLLM's buckets (ms), from the stored samples. Failed requests are left out. */
export function histogramsOf(rows: SampleRow[]) {
  const ok = rows.filter((r) => r.error === null);
  const pick = (f: (r: SampleRow) => number | null) => ok.map(f).filter((v): v is number => v !== null);
  return {
    ttft: bucketize(pick((r) => r.ttftMs), BUCKETS_MS.ttft),
    itl: bucketize(
      ok.flatMap((r) => r.itlMs ?? []),
      BUCKETS_MS.itl,
    ),
    tpot: bucketize(pick((r) => r.tpotMs), BUCKETS_MS.tpot),
    e2e: bucketize(pick((r) => r.e2eMs), BUCKETS_MS.e2e),
  };
}

export async function loadTestHistograms(db: Db, user: SessionUser, id: string) {
  await requireLoadTest(db, user, id);
  const rows = await samplesOf(db, id);
  return { samples: rows.length, ...histogramsOf(rows) };
}

/** Two or more runs side by side: each run's summary and histograms, in the order asked. */
export async function compareLoadTests(db: Db, user: SessionUser, ids: string[]) {
  const out = [];
  for (const id of ids) {
    const row = await requireLoadTest(db, user, id);
    out.push({
      id: row.id,
      name: row.name,
      model: row.model,
      status: row.status,
      createdAt: row.createdAt,
      spec: publicSpec(row.spec),
      summary: row.summary as StoredSummary | null,
      histograms: histogramsOf(await samplesOf(db, id)),
    });
  }
  return out;
}
