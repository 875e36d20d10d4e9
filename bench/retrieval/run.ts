import { chunkSections } from '../../server/knowledge/chunk';
import { normalise } from '../../server/core/vectors';
import { exactTopK } from '../../server/knowledge/exact-search';
import { parseDocument } from '../../server/knowledge/parse';
import { makeDocx, makePdf } from '../../server/knowledge/testing/fixtures';

/**
 * npm run bench:retrieval (issue 16): (1) ingest throughput, pages per second parsed and chunked (no
 * embedding model: its time is the deployment's), for a PDF, a DOCX and Markdown; (2) query latency
 * p50/p99 of the vector search Enclave runs (exact inner product over the decrypted vectors held in
 * memory, server/knowledge/exact-search.ts) at 10,000 and 1,000,000 synthetic 384-dimensional vectors,
 * with recall@10 against exact search, and the memory a million vectors take.
 *
 * The vectors are clustered (2,000 centres plus noise, L2-normalised) as real embeddings are, not
 * uniform. BENCH_RETRIEVAL_SIZES (default "10000,1000000") and BENCH_RETRIEVAL_QUERIES (default 20).
 */
const DIMS = 384;
const SIZES = (process.env.BENCH_RETRIEVAL_SIZES ?? '10000,1000000').split(',').map(Number);
const QUERIES = Number(process.env.BENCH_RETRIEVAL_QUERIES ?? 20);
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

const RECALL_QUERIES = 5;

function truthOf(matrix: Float32Array, query: Float32Array): Set<number> {
  const n = matrix.length / DIMS;
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < DIMS; d++) s += matrix[i * DIMS + d]! * query[d]!;
    scores[i] = s;
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  return new Set(order.slice(0, 10));
}

function queryLatency(n: number) {
  const gauss = rng(7);
  const centres = new Float32Array(2000 * DIMS).map(() => gauss() / Math.sqrt(DIMS) * 4);
  const heapBefore = process.memoryUsage().arrayBuffers;
  const matrix = vectors(n, centres, 11);
  const bytes = process.memoryUsage().arrayBuffers - heapBefore;
  const queries = vectors(QUERIES, centres, 13);
  const times: number[] = [];
  let recall = 0;
  for (let q = 0; q < QUERIES; q++) {
    const query = queries.subarray(q * DIMS, (q + 1) * DIMS);
    const start = performance.now();
    const hits = exactTopK(matrix, DIMS, query, 10);
    times.push(performance.now() - start);
    // Recall@10 against an independent exact search (score all, sort): measured, not assumed.
    if (q < RECALL_QUERIES) recall += hits.filter((h) => truthOf(matrix, query).has(h.index)).length / 10;
  }
  return { vectors: n, queries: QUERIES, p50Ms: round(percentile(times, 50)), p99Ms: round(percentile(times, 99)), recallAt10: round(recall / Math.min(QUERIES, RECALL_QUERIES), 3), memoryMiB: round(bytes / 2 ** 20, 1) };
}

const ingest = await ingestThroughput();
console.log('ingest (parse + chunk, no embedding):', JSON.stringify(ingest));
for (const n of SIZES) {
  const r = queryLatency(n);
  console.log(`vector search, exact over ${n.toLocaleString('en')} x ${DIMS}:`, JSON.stringify(r), `memory per million vectors: ${round((r.memoryMiB / n) * 1e6, 0)} MiB`);
}
console.log(`target: p99 < 20 ms at 1,000,000 vectors with recall@10 >= 0.95`);
