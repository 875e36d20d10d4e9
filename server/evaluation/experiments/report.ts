import type { Db } from '../../db/client';
import { getExperiment } from './service';
import { latencySamples, variantStats } from './variant-stats';
import { verdict } from './verdict';

/** An experiment with per-variant figures and the verdict over the last `hours` (default: all of it). */
export async function experimentReport(db: Db, id: string, hours?: number) {
  const experiment = await getExperiment(db, id);
  const since = hours ? new Date(Date.now() - hours * 3_600_000) : null;
  const ids = experiment.variants.map((v) => v.id);
  // The baseline is the variant labelled "control" when there is one (the form's default), else the first by label.
  const baseline = experiment.variants.find((v) => v.label.toLowerCase() === 'control') ?? experiment.variants[0];
  if (baseline) ids.sort((a, b) => (a === baseline.id ? -1 : b === baseline.id ? 1 : 0));
  const stats = await variantStats(db, id, ids, since);
  const [e2e, ttft] = await Promise.all([latencySamples(db, id, since, 'e2e_ms'), latencySamples(db, id, since, 'ttft_ms')]);
  const samples = new Map(ids.map((v) => [v, { e2e: e2e.get(v) ?? [], ttft: ttft.get(v) ?? [] }]));
  return { experiment, stats, comparisons: verdict(stats, samples), baselineVariantId: baseline?.id ?? null };
}
