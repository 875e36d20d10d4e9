import { monotonicMs } from '../../server/evaluation/loadtest/clock';

/**
 * The reference: the least a client can do. One event loop, Node's bundled undici through global
 * fetch, one reader per stream, the arrival time of the first chunk that carries a token. No parsing
 * beyond that, no threads. Returns the arrival instant (shared monotonic clock) per request id.
 */
export async function minimalClient(url: string, concurrency: number, total: number, body: (i: number) => string): Promise<{ arrivals: Map<string, number>; failed: number }> {
  const arrivals = new Map<string, number>();
  let failed = 0;
  let next = 0;
  const one = async (i: number) => {
    const id = `minimal-${i}`;
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': id }, body: body(i) });
      if (!res.ok || !res.body) throw new Error(String(res.status));
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (!arrivals.has(id) && Buffer.from(value.buffer, value.byteOffset, value.byteLength).includes('"content":"tok')) arrivals.set(id, monotonicMs());
      }
    } catch {
      failed++;
    }
  };
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await one(next++);
    }),
  );
  return { arrivals, failed };
}
