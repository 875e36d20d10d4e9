import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { containsToken } from '../../server/gateway/sse';

export interface Sample {
  ttftMs: number;
  e2eMs: number;
  /** The gateway's own x-enclave-overhead-ms (pre-forward time), when the path is the gateway. */
  overheadMs: number | null;
}

/**
 * Runs `total` streaming requests against `url`, `concurrency` at a time, over keep-alive connections.
 * TTFT is the arrival of the first chunk carrying a token, the same byte test for every path.
 */
export async function runStreams(url: string, body: string | (() => string), headers: Record<string, string>, concurrency: number, total: number) {
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const samples: Sample[] = [];
  let errors = 0;
  let started = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      // A function gives each request its own body (the cache section's never-seen prompts).
      const payload = typeof body === 'string' ? body : body();
      const t0 = performance.now();
      let ttft = -1;
      const req = http.request(
        {
          agent,
          hostname: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers },
        },
        (res) => {
          if (res.statusCode !== 200) errors++;
          res.on('data', (chunk: Buffer) => {
            if (ttft < 0 && containsToken(chunk)) ttft = performance.now() - t0;
          });
          res.on('end', () => {
            if (res.statusCode === 200 && ttft >= 0) {
              const overhead = res.headers['x-enclave-overhead-ms'];
              samples.push({ ttftMs: ttft, e2eMs: performance.now() - t0, overheadMs: overhead ? Number(overhead) : null });
            }
            resolve();
          });
          res.on('error', () => {
            errors++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(payload);
    });
  const worker = async () => {
    while (started < total) {
      started++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return { samples, errors };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
