import { performance } from 'node:perf_hooks';
import { percentile, runStreams } from './load';

/**
 * The response cache's section of bench:gateway (issue 14, part 4; target: a hit's TTFT p50 under 2 ms):
 * the same streaming request through the real gateway three ways, one stream at a time and then 50:
 * - hit: a deterministic request already answered, replayed from Redis;
 * - miss: a deterministic request never seen (a different prompt each time), answered live, then stored;
 * - bypass: a sampled request (temperature 0.7), answered live with no cache work at all.
 * The engine double answers its first token after 20 ms, so a live TTFT is at least that. The target is
 * for one stream at a time: 50 clients asking back to back for hits keep the gateway's CPU busy (nothing
 * waits on an engine), so there the TTFT is a queue and answers per second is the figure that matters.
 */
export interface CacheRun {
  concurrency: number;
  requests: number;
  hit: Figures;
  miss: Figures;
  bypass: Figures;
}
interface Figures {
  errors: number;
  /** Answers per second while `concurrency` clients ask back to back: at 50, hits are bound by the gateway's CPU, not by waiting. */
  perSecond: number;
  ttftP50: number;
  ttftP95: number;
  e2eP50: number;
}

const round = (v: number, d = 3) => Math.round(v * 10 ** d) / 10 ** d;

export async function cacheSection(gatewayUrl: string, model: string, headers: Record<string, string>): Promise<CacheRun[]> {
  const url = `${gatewayUrl}/v1/chat/completions`;
  const body = (content: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ model, messages: [{ role: 'user', content }], stream: true, max_tokens: 16, temperature: 0, ...extra });
  let unique = 0;
  const fresh = () => body(`A question never asked before, number ${unique++} of run ${process.pid}`);
  const repeated = body('What is the capital of France?');
  const sampled = body('Tell me a story.', { temperature: 0.7 });
  type Timed = Awaited<ReturnType<typeof runStreams>> & { ms: number };
  const timed = async (b: string | (() => string), concurrency: number, n: number): Promise<Timed> => {
    const t0 = performance.now();
    const r = await runStreams(url, b, headers, concurrency, n);
    return { ...r, ms: performance.now() - t0 };
  };
  const figures = (r: Timed): Figures => ({
    errors: r.errors,
    perSecond: Math.round((r.samples.length * 1000) / r.ms),
    ttftP50: round(percentile(r.samples.map((s) => s.ttftMs), 50)),
    ttftP95: round(percentile(r.samples.map((s) => s.ttftMs), 95)),
    e2eP50: round(percentile(r.samples.map((s) => s.e2eMs), 50)),
  });

  // Store the repeated answer (the store is written just after the live answer ends), and warm every path.
  await runStreams(url, repeated, headers, 1, 1);
  await new Promise((r) => setTimeout(r, 200));
  for (const b of [repeated, sampled, fresh]) await runStreams(url, b, headers, 10, 100);

  const runs: CacheRun[] = [];
  for (const [concurrency, requests] of [
    [1, 300],
    [50, 1000],
  ] as const) {
    // Interleaved halves, so drift on a shared machine lands on every path alike.
    const acc = { hit: [] as Timed[], miss: [] as Timed[], bypass: [] as Timed[] };
    for (let half = 0; half < 2; half++) {
      acc.hit.push(await timed(repeated, concurrency, requests / 2));
      acc.miss.push(await timed(fresh, concurrency, requests / 2));
      acc.bypass.push(await timed(sampled, concurrency, requests / 2));
    }
    const merge = (parts: Timed[]): Timed => ({
      samples: parts.flatMap((p) => p.samples),
      errors: parts.reduce((n, p) => n + p.errors, 0),
      ms: parts.reduce((n, p) => n + p.ms, 0),
    });
    runs.push({ concurrency, requests, hit: figures(merge(acc.hit)), miss: figures(merge(acc.miss)), bypass: figures(merge(acc.bypass)) });
  }
  return runs;
}

export function printCache(runs: CacheRun[]) {
  console.log('\nResponse cache (through the gateway, streamed; target: a hit\'s TTFT p50 < 2 ms)');
  console.log('  streams  path     err  ttft p50    p95 | e2e p50 | answers/s');
  for (const r of runs)
    for (const p of ['hit', 'miss', 'bypass'] as const) {
      const f = r[p];
      console.log(
        `  ${String(r.concurrency).padStart(7)}  ${p.padEnd(7)} ${String(f.errors).padStart(4)} ${f.ttftP50.toFixed(2).padStart(9)} ${f.ttftP95.toFixed(2).padStart(6)} | ${f.e2eP50.toFixed(2).padStart(7)} | ${String(f.perSecond).padStart(6)}${p === 'hit' && r.concurrency === 1 ? `   ${f.ttftP50 < 2 ? 'holds' : 'MISSED'}` : ''}`,
      );
    }
}
