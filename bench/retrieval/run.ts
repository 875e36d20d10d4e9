import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AnnIndex, DEFAULT_ANN } from '../../server/knowledge/ann-index';
import { chunkSections } from '../../server/knowledge/chunk';
import { normalise } from '../../server/core/vectors';
import { exactTopK } from '../../server/knowledge/exact-search';
import { parseDocument } from '../../server/knowledge/parse';
import { makeDocx, makePdf } from '../../server/knowledge/testing/fixtures';

/**
 * npm run bench:retrieval (issue 16): (1) ingest throughput, pages per second parsed and chunked (no
 * embedding model: its time is the deployment's), for a PDF, a DOCX and Markdown; (2) query latency
 * p50/p99 of the vector search Enclave runs (the IVF index of server/knowledge/ann-index.ts: √n k-means
 * lists, the nearest probed until at least 10,000 vectors are scanned, exact float32 scores) at 10,000 and
 * 1,000,000 synthetic 384-dimensional vectors, with recall@10 against exact search, the memory a million
 * vectors take, the time to build the index and to save and read it sealed; exact search (what Enclave
 * ran before) beside it; and recall/latency at other scan sizes, read from the saved file. Run with
 * --expose-gc (the npm script does) for memory figures without garbage.
 *
 * The vectors are clustered (2,000 centres plus noise, L2-normalised) as real embeddings are, not
 * uniform. BENCH_RETRIEVAL_SIZES (default "10000,1000000") and BENCH_RETRIEVAL_QUERIES (default 200).
 */
const DIMS = 384;
const SIZES = (process.env.BENCH_RETRIEVAL_SIZES ?? '10000,1000000').split(',').map(Number);
const QUERIES = Number(process.env.BENCH_RETRIEVAL_QUERIES ?? 200);
const round = (v: number, d = 2) => Math.round(v * 10 ** d) / 10 ** d;
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

// A small deterministic generator (mulberry32) with Box-Muller: the same vectors on every run.
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(next() || 1e-12)) * Math.cos(2 * Math.PI * next());
}

const PARAGRAPH =
  'Quarterly figures show the warehouse in Rotterdam shipped more pallets than planned, while the travel budget stayed within its limits. Managers approve expense claims above five hundred euros, and receipts are submitted within thirty days. ';

async function ingestThroughput() {
  const pages = 200;
  const pageLines = Array.from({ length: pages }, (_, p) => Array.from({ length: 30 }, (_, l) => `Page ${p + 1} line ${l + 1}: ${PARAGRAPH.slice(0, 90)}`));
  const pdf = makePdf(pageLines);
  // A DOCX and a Markdown file of the same text, one heading per "page".
  const docx = makeDocx(pageLines.flatMap((lines, p) => [{ heading: `Section ${p + 1}`, level: 1 as const }, { text: lines.join(' ') }]));
  const md = Buffer.from(pageLines.map((lines, p) => `# Section ${p + 1}\n\n${lines.join('\n')}\n`).join('\n'));
  const out: Record<string, unknown> = {};
  for (const [kind, bytes] of [['pdf', pdf], ['docx', docx], ['markdown', md]] as const) {
    await parseDocument(kind, bytes); // warm-up (module load, JIT)
    const runs = 3;
    const start = performance.now();
    let chunks = 0;
    for (let i = 0; i < runs; i++) chunks = chunkSections((await parseDocument(kind, bytes)).sections).length;
    const seconds = (performance.now() - start) / 1000 / runs;
    out[kind] = { pages, bytes: bytes.length, chunks, pagesPerSecond: round(pages / seconds, 0), mbPerSecond: round(bytes.length / 1e6 / seconds, 2) };
  }
  return out;
}

function vectors(n: number, centres: Float32Array, seed: number): Float32Array {
  const gauss = rng(seed);
  const nc = centres.length / DIMS;
  const m = new Float32Array(n * DIMS);
  const row = new Float32Array(DIMS);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(Math.abs(gauss() * 1e6)) % nc;
    for (let d = 0; d < DIMS; d++) row[d] = centres[c * DIMS + d]! + 0.35 * gauss();
    m.set(normalise(row), i * DIMS);
  }
  return m;
}

/** Queries whose recall is checked against exact search (an exact search at a million takes seconds). */
const RECALL_QUERIES = 20;
/** Exact searches timed for comparison. */
const EXACT_QUERIES = 10;

const mib = (bytes: number) => round(bytes / 2 ** 20, 1);

async function queryLatency(n: number) {
  const gauss = rng(7);
  const centres = new Float32Array(2000 * DIMS).map(() => (gauss() / Math.sqrt(DIMS)) * 4);
  const matrix = vectors(n, centres, 11);
  const queries = vectors(QUERIES, centres, 13);
  const query = (q: number) => queries.subarray(q * DIMS, (q + 1) * DIMS);
  // The truth: exact top 10 (exactTopK, itself checked against a full sort in the tests).
  const truth = Array.from({ length: Math.min(QUERIES, RECALL_QUERIES) }, (_, q) => new Set(exactTopK(matrix, DIMS, query(q), 10).map((h) => h.index)));
  const exactTimes: number[] = [];
  for (let q = 0; q < Math.min(QUERIES, EXACT_QUERIES); q++) {
    const start = performance.now();
    exactTopK(matrix, DIMS, query(q), 10);
    exactTimes.push(performance.now() - start);
  }

  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const buildStart = performance.now();
  const index = AnnIndex.create(DIMS);
  index.add(
    Array.from({ length: n }, (_, i) => i),
    matrix,
  );
  const buildSeconds = (performance.now() - buildStart) / 1000;
  gc?.();
  // The index's typed arrays counted exactly, plus what the JS heap grew by (its key map).
  const indexBytes = index.arrayBytes + Math.max(0, process.memoryUsage().heapUsed - heapBefore);

  const measure = (idx: AnnIndex) => {
    const times: number[] = [];
    let recall = 0;
    for (let q = 0; q < QUERIES; q++) {
      const start = performance.now();
      const hits = idx.search(query(q), 10);
      times.push(performance.now() - start);
      if (q < truth.length) recall += hits.filter((h) => truth[q]!.has(h.key)).length / 10;
    }
    return { p50Ms: round(percentile(times, 50)), p99Ms: round(percentile(times, 99)), recallAt10: round(recall / truth.length, 3) };
  };
  const ann = measure(index);

  // Saved sealed and read back (what a restart does instead of a rebuild), and other probe counts on that copy.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-retrieval-'));
  const key = { id: 1, key: randomBytes(32) };
  const file = path.join(dir, 'index.ivf');
  let start = performance.now();
  const fileBytes = await index.saveSealed(file, { dims: DIMS }, key);
  const saveSeconds = (performance.now() - start) / 1000;
  start = performance.now();
  await AnnIndex.loadSealed(file, async () => key.key);
  const loadSeconds = (performance.now() - start) / 1000;
  const sweep: Record<string, unknown> = {};
  for (const scanAtLeast of [2_500, 5_000, 20_000]) {
    const { index: other } = await AnnIndex.loadSealed(file, async () => key.key, { ...DEFAULT_ANN, scanAtLeast });
    sweep[`scan${scanAtLeast}`] = measure(other);
  }
  await rm(dir, { recursive: true, force: true });

  return {
    vectors: n,
    queries: QUERIES,
    ivf: { ...ann, lists: index.listCount, scanAtLeast: DEFAULT_ANN.scanAtLeast, memoryMiB: mib(indexBytes), buildSeconds: round(buildSeconds, 1), vectorsPerSecond: round(n / buildSeconds, 0), sealedFileMiB: mib(fileBytes), saveSeconds: round(saveSeconds, 2), loadSeconds: round(loadSeconds, 2) },
    sweep,
    exact: { p50Ms: round(percentile(exactTimes, 50)), p99Ms: round(percentile(exactTimes, 99)), float32MiB: mib(matrix.byteLength) },
  };
}

const ingest = await ingestThroughput();
console.log('ingest (parse + chunk, no embedding):', JSON.stringify(ingest));
for (const n of SIZES) {
  const r = await queryLatency(n);
  console.log(`vector search over ${n.toLocaleString('en')} x ${DIMS}:`, JSON.stringify(r));
  console.log(
    `  IVF p50 ${r.ivf.p50Ms} ms, p99 ${r.ivf.p99Ms} ms, recall@10 ${r.ivf.recallAt10}; memory per million vectors ${round((r.ivf.memoryMiB / n) * 1e6, 0)} MiB; exact p50 ${r.exact.p50Ms} ms, p99 ${r.exact.p99Ms} ms`,
  );
  if (n >= 1_000_000) console.log(`  target (p99 < 20 ms, recall@10 >= 0.95 at a million): ${r.ivf.p99Ms < 20 && r.ivf.recallAt10 >= 0.95 ? 'met' : 'NOT met'}`);
}
