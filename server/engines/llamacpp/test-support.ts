import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The real test model (see models/README.md); ENCLAVE_TEST_MODEL overrides it. */
export const TEST_MODEL_PATH =
  process.env.ENCLAVE_TEST_MODEL ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../models/stories260K.gguf');

/** The `data:` payloads of a server-sent event stream, in order, JSON-parsed except the final `[DONE]`. */
export async function readEventStream(res: Response): Promise<Array<Record<string, any> | '[DONE]'>> {
  const events: Array<Record<string, any> | '[DONE]'> = [];
  for await (const data of eventData(res)) events.push(data);
  return events;
}

/** Yields each event's data as it arrives, so tests can act mid-stream. */
export async function* eventData(res: Response): AsyncGenerator<Record<string, any> | '[DONE]'> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!block.startsWith('data: ')) throw new Error(`not an SSE data line: ${block.slice(0, 80)}`);
      const data = block.slice(6);
      yield data === '[DONE]' ? '[DONE]' : JSON.parse(data);
    }
  }
  if (buffer.trim()) throw new Error('stream ended mid-event');
}

export function postJson(url: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...init });
}

/** One sample of a Prometheus text exposition, by metric name (labels ignored: the engine has one model). */
export function metricValue(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  if (!line) throw new Error(`metric ${name} not found`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

/**
 * Runs `during` while another client's stream flows from the engine at `baseUrl`: the longest gap between
 * that stream's chunks from just before `during` until 20 chunks after it, which is how long the engine
 * stalled its other clients. The stream is ended either way (it may hold the engine's only sequence).
 */
export async function streamGapsDuring<T>(baseUrl: string, during: () => Promise<T>): Promise<{ longestGapMs: number; chunksAfter: number; result: T }> {
  const abort = new AbortController();
  const res = await postJson(`${baseUrl}/v1/completions`, { prompt: 'Once upon a time', max_tokens: 100_000, ignore_eos: true, stream: true }, { signal: abort.signal });
  if (res.status !== 200) throw new Error(`the stream answered ${res.status}`);
  const arrivals: number[] = [];
  let after = false;
  let chunksAfter = 0;
  let started!: () => void;
  const flowing = new Promise<void>((resolve) => (started = resolve));
  const reading = (async () => {
    try {
      for await (const _event of eventData(res)) {
        arrivals.push(performance.now());
        if (arrivals.length === 20) started();
        if (after && ++chunksAfter >= 20) abort.abort();
      }
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    }
  })();
  try {
    await flowing;
    const from = arrivals.at(-1)!;
    const result = await during();
    after = true;
    await reading;
    const window = arrivals.filter((at) => at >= from);
    return { longestGapMs: Math.max(...window.slice(1).map((at, i) => at - window[i]!)), chunksAfter, result };
  } finally {
    abort.abort();
  }
}
