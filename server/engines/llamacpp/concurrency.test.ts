import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLlamaCppEngine, type StartedLlamaCppEngine } from './process';
import { until } from '../../testing/until';
import { eventData, metricValue, postJson, TEST_MODEL_PATH } from './test-support';

// One sequence: a second request must queue behind the first.
let engine: StartedLlamaCppEngine;
beforeAll(async () => {
  engine = await startLlamaCppEngine({ name: 'stories260K', modelPath: TEST_MODEL_PATH, threads: 1, context: 2048, sequences: 1 });
});
afterAll(async () => {
  await engine?.stop();
});

const metrics = async () => (await fetch(`${engine.url}/metrics`)).text();
const longStream = (signal?: AbortSignal) =>
  postJson(`${engine.url}/v1/completions`, { prompt: 'Once upon a time', max_tokens: 2000, ignore_eos: true, stream: true }, { signal });

/** The engine's own gauge reaching `value`, read every 20 ms (a queued request waits a few hundred ms at most). */
const untilMetric = (name: string, value: number, timeoutMs: number) =>
  until(`${name} = ${value}`, async () => metricValue(await metrics(), name) === value, timeoutMs, 20);

describe('more requests than sequences', () => {
  it('queues the extra requests in order and counts them as waiting', async () => {
    const started: number[] = [];
    const run = async (index: number) => {
      const res = await postJson(`${engine.url}/v1/completions`, { prompt: 'Once upon a time', max_tokens: 400, ignore_eos: true, stream: true });
      for await (const event of eventData(res)) {
        if (event !== '[DONE]' && event.choices[0]?.text && !started.includes(index)) started.push(index);
      }
      return index;
    };
    const first = run(0);
    await untilMetric('vllm:num_requests_running', 1, 5_000);
    // Sent one after the other (not just in program order) so the queue order is the order of arrival.
    const second = run(1);
    await untilMetric('vllm:num_requests_waiting', 1, 5_000);
    const third = run(2);
    let maxWaiting = 0;
    const watching = until(
      'two requests waiting',
      async () => {
        const text = await metrics();
        maxWaiting = Math.max(maxWaiting, metricValue(text, 'vllm:num_requests_waiting'));
        expect(metricValue(text, 'vllm:num_requests_running')).toBeLessThanOrEqual(1);
        return maxWaiting >= 2;
      },
      10_000,
      20,
    );
    await Promise.all([first, second, third, watching]);
    expect(maxWaiting).toBe(2);
    expect(started).toEqual([0, 1, 2]);
    const after = await metrics();
    expect(metricValue(after, 'vllm:num_requests_waiting')).toBe(0);
    expect(metricValue(after, 'vllm:num_requests_running')).toBe(0);
  });
});

describe('a client that disconnects', () => {
  it('frees its sequence at once, so the queued request proceeds', async () => {
    const generatedBefore = metricValue(await metrics(), 'vllm:generation_tokens_total');
    const abort = new AbortController();
    const res = await longStream(abort.signal);
    // Wait for the first token so the generation is really running, then hang up.
    const reader = eventData(res);
    await reader.next();

    const queuedAt = performance.now();
    const queued = postJson(`${engine.url}/v1/completions`, { prompt: 'Once upon a time', max_tokens: 5, ignore_eos: true });
    await untilMetric('vllm:num_requests_waiting', 1, 5_000);
    abort.abort();

    const answer = (await (await queued).json()) as any;
    const queuedMs = performance.now() - queuedAt;
    expect(answer.usage.completion_tokens).toBe(5);

    // The aborted request generated far fewer than its 2000 tokens: it stopped, it did not run to the end.
    const generated = metricValue(await metrics(), 'vllm:generation_tokens_total') - generatedBefore;
    expect(generated - 5).toBeLessThan(1000);
    expect(queuedMs).toBeLessThan(5_000);
    expect(metricValue(await metrics(), 'vllm:num_requests_running')).toBe(0);
  });

  it('leaves the queue at once when it hangs up while waiting', async () => {
    const holder = new AbortController();
    const holding = await longStream(holder.signal);
    const reader = eventData(holding);
    await reader.next();

    const waiter = new AbortController();
    const waiting = longStream(waiter.signal).catch(() => undefined);
    await untilMetric('vllm:num_requests_waiting', 1, 5_000);
    waiter.abort();
    await waiting;
    await untilMetric('vllm:num_requests_waiting', 0, 2_000);
    holder.abort();
    await untilMetric('vllm:num_requests_running', 0, 2_000);
  });
});

describe('SIGTERM', () => {
  it('aborts running generations, stops, and exits 0', async () => {
    const res = await longStream();
    const reader = eventData(res);
    await reader.next();
    const stoppedAt = performance.now();
    const exit = await engine.stop(10_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(performance.now() - stoppedAt).toBeLessThan(5_000);
    expect(() => process.kill(engine.pid, 0)).toThrow();
  });
});
