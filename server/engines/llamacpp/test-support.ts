import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The real test model (see ../shared/models/SOURCES.md); ENCLAVE_TEST_MODEL overrides it. */
export const TEST_MODEL_PATH =
  process.env.ENCLAVE_TEST_MODEL ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/models/stories260K.gguf');

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
