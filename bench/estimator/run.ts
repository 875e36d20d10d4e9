import { estimateMemory, GiB } from '../../server/gpu/estimator';
import { errorPct, estimatedFigure, loadFixture, PUBLISHED } from '../../server/gpu/estimator/configs/published';

/**
 * npm run bench:estimator — every real config.json fixture against the figure vLLM logged or its
 * authors published (server/gpu/estimator/configs/published.ts, sources in SOURCES.md): the estimated
 * weights on one GPU, the published figure, the error. Parameter counts are compared where no vLLM log
 * was found. Ends with one JSON line of the figures, like the other benches.
 */
const round = (x: number, digits = 4) => Math.round(x * 10 ** digits) / 10 ** digits;

const rows = PUBLISHED.map((figure) => {
  const spec = { ...figure.spec };
  const weightsGiB = estimateMemory(loadFixture(figure.fixture), spec).perGpu.weightsBytes / GiB;
  const estimated = estimatedFigure(figure);
  const billions = figure.kind !== 'weights';
  return {
    model: figure.model,
    tp: spec.tp ?? 1,
    dtype: spec.dtype ?? 'auto',
    compared: figure.kind === 'weights' ? 'weights GiB/GPU' : figure.kind === 'vision' ? 'vision tower params (B)' : 'parameters (B)',
    weightsGiB: round(weightsGiB, 3),
    estimated: round(billions ? estimated / 1e9 : estimated),
    published: round(billions ? figure.value / 1e9 : figure.value),
    errorPct: round(errorPct(estimated, figure.value), 2),
    tolerancePct: figure.tolerancePct,
    source: figure.source,
  };
});

const header = ['model', 'TP', 'weights/GPU GiB', 'compared', 'estimated', 'published', 'error %', 'source'];
const table = rows.map((r) => [r.model, String(r.tp), r.weightsGiB.toFixed(3), r.compared, String(r.estimated), String(r.published), r.errorPct.toFixed(2), r.source]);
const widths = header.map((h, i) => Math.min(60, Math.max(h.length, ...table.map((t) => t[i]!.length))));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.slice(0, widths[i]).padEnd(widths[i]!)).join(' | ')} |`;
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const t of table) console.log(line(t));

const weights = rows.filter((r) => r.compared.startsWith('weights'));
const worst = Math.max(...rows.map((r) => Math.abs(r.errorPct)));
console.log(
  `${rows.length} comparisons (${weights.length} of weights per GPU, ${rows.length - weights.length} of parameter counts); worst error ${worst.toFixed(2)}%; ` +
    `every one within its tolerance: ${rows.every((r) => Math.abs(r.errorPct) < r.tolerancePct)}`,
);
console.log(JSON.stringify({ bench: 'estimator', comparisons: rows.length, worstErrorPct: worst, rows: rows.map(({ source: _s, ...r }) => r) }));
