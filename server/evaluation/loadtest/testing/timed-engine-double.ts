import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { monotonicMs } from '../clock';

/**
 * A TEST DOUBLE for a streaming engine whose timing is known: the first token leaves `firstTokenMs`
 * after the request body arrived, then one token every `interTokenMs`, in OpenAI's chat SSE format with
 * a usage event. It stamps the instant (on the shared monotonic clock, clock.ts) each token was
 * written, keyed by the request's x-request-id, so a client's TTFT and ITL can be checked against what
 * was really sent, even when this double's own timers run late (GET /stamps). Chunks are prebuilt: at thousands of streams the double must not be the
 * bottleneck it is measuring.
 */
export interface TimedDoubleOptions {
  firstTokenMs: number;
  interTokenMs: number;
  /** Tokens per reply, fewer when max_tokens is smaller. */
  tokens: number;
}

export interface TimedDouble {
  url: string;
  port: number;
  close(): Promise<void>;
}

const HEAD = 'data: {"id":"chatcmpl-timed","object":"chat.completion.chunk","created":0,"model":"timed","choices":[';
const ROLE = Buffer.from(`${HEAD}{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n`);
const TOKEN = Buffer.from(`${HEAD}{"index":0,"delta":{"content":"tok "},"finish_reason":null}]}\n\n`);
const FINISH = `${HEAD}{"index":0,"delta":{},"finish_reason":"length"}]}\n\n`;

export async function startTimedDouble(opts: TimedDoubleOptions, port = 0): Promise<TimedDouble> {
  const stamps = new Map<string, number[]>();
  const server = http.createServer({ noDelay: true, keepAliveTimeout: 60_000 }, (req, res) => {
    if (req.method === 'GET' && req.url === '/stamps') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify(Object.fromEntries(stamps)));
    }
    if (req.method === 'DELETE' && req.url === '/stamps') {
      stamps.clear();
      return void res.writeHead(204).end();
    }
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) return void res.writeHead(404).end();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let maxTokens = opts.tokens;
      let promptWords = 0;
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { max_tokens?: number; messages?: { content?: string }[] };
        if (typeof body.max_tokens === 'number') maxTokens = Math.min(maxTokens, body.max_tokens);
        promptWords = (body.messages?.[0]?.content ?? '').split(' ').length;
      } catch {
        return void res.writeHead(400).end();
      }
      const id = String(req.headers['x-request-id'] ?? '');
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(ROLE);
      // Each token is due at a fixed offset from the request's arrival: a late timer delays that token,
      // never all the ones after it.
      const arrived = performance.now();
      let sent = 0;
      const next = () => {
        if (res.destroyed) return;
        // Stamped just before the write: a client can then never look earlier than the truth.
        if (id) {
          const at = monotonicMs();
          if (sent === 0) stamps.set(id, [at]);
          else stamps.get(id)?.push(at);
        }
        res.write(TOKEN);
        sent++;
        const due = arrived + opts.firstTokenMs + sent * opts.interTokenMs;
        if (sent < maxTokens) return void setTimeout(next, Math.max(0, due - performance.now()));
        res.write(FINISH);
        res.end(`${HEAD}],"usage":{"prompt_tokens":${promptWords},"completion_tokens":${sent},"total_tokens":${promptWords + sent}}}\n\ndata: [DONE]\n\n`);
      };
      setTimeout(next, opts.firstTokenMs);
    });
  });
  server.maxConnections = 100_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', 4096, resolve));
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
