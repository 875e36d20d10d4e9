/**
 * How long one client's huge prompts stall another client's stream on the built-in engine (finding 10 of
 * issue 9). One engine (stories260K, one thread, one sequence held by the stream); while it streams, N
 * prompts of B bytes arrive at once from someone else. Prints one JSON line: the stream's longest gap
 * between chunks, and how long the huge prompts took to be refused.
 *   npm run bench:engine-fairness -- [--context 2048] [--bytes 3900000] [--prompts 2]
 */
import { parseArgs } from 'node:util';
import { startLlamaCppEngine } from '../../server/engines/llamacpp/process';
import { streamGapsDuring, TEST_MODEL_PATH } from '../../server/engines/llamacpp/test-support';

const { values } = parseArgs({ options: { context: { type: 'string', default: '2048' }, bytes: { type: 'string', default: '3900000' }, prompts: { type: 'string', default: '2' } } });
const context = Number(values.context);
const bytes = Number(values.bytes);
const prompts = Number(values.prompts);

const engine = await startLlamaCppEngine({ name: 'stories260K', modelPath: TEST_MODEL_PATH, threads: 1, context, sequences: 1 });
try {
  const text = 'Once upon a time there was a little girl named Lily. '.repeat(Math.ceil(bytes / 53)).slice(0, bytes);
  const body = JSON.stringify({ messages: [{ role: 'user', content: text }], max_tokens: 4 });
  const send = () => fetch(`${engine.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  // Once first, so the tokenizer thread (where there is one) is up: the figure is the steady state.
  await (await send()).arrayBuffer();
  const t0 = performance.now();
  const { longestGapMs, result } = await streamGapsDuring(engine.url, () => Promise.all(Array.from({ length: prompts }, async () => {
    const res = await send();
    await res.arrayBuffer();
    return { status: res.status, ms: performance.now() - t0 };
  })));
  const statuses = [...new Set(result.map((r) => r.status))];
  process.stdout.write(`${JSON.stringify({ context, promptBytes: bytes, prompts, statuses, longestStallMs: Math.round(longestGapMs), refusedWithinMs: Math.round(Math.max(...result.map((r) => r.ms))) })}\n`);
} finally {
  await engine.stop();
}
