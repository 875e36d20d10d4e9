import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { etaSeconds, parseTrainerLine, parseTrainerOutput, TrainerStreamParser, type TrainerEvent } from './protocol';

// A recorded lora_sft.py run, with the noise real libraries print on stdout
// (deprecation warnings, peft's parameter count), one malformed step, one unknown event.
const recorded = readFileSync(new URL('./protocol.fixture.log', import.meta.url), 'utf8');

const kinds = (events: TrainerEvent[]) => events.map((e) => e.event);

describe('trainer protocol', () => {
  it('parses a recorded run into typed events, keeping noise as log lines', () => {
    const events = parseTrainerOutput(recorded);
    expect(kinds(events)).toEqual([
      'log', 'log', 'log', 'step', 'step', 'checkpoint', 'eval', 'step', 'log', 'log', 'step', 'checkpoint', 'step', 'eval', 'done',
    ]);
    const steps = events.filter((e) => e.event === 'step');
    expect(steps.map((s) => s.step)).toEqual([10, 20, 30, 40, 60]);
    expect(steps[2]).toMatchObject({ loss: 1.7342, grad_norm: null });
    expect(events.at(-1)).toEqual({ event: 'done', adapter_path: '/data/jobs/ft-42/adapter' });
    expect(events[0]).toEqual({ event: 'log', line: 'loading base model /data/models/llama-3.2-1b' });
    expect(events[1]).toEqual({ event: 'log', line: '`torch_dtype` is deprecated! Use `dtype` instead!' });
    expect(events[6]).toMatchObject({ event: 'eval', eval_loss: 1.8821, eval_runtime: 3.12 });
  });

  it('says why a JSON line was not an event', () => {
    expect(parseTrainerLine('{"event":"step","step":"forty","total_steps":60}')).toMatchObject({
      event: 'log',
      reason: expect.stringContaining('malformed step event: step'),
    });
    expect(parseTrainerLine('{"event":"heartbeat"}')).toMatchObject({ event: 'log', reason: 'unknown event "heartbeat"' });
    expect(parseTrainerLine('{"event":"done"}')).toMatchObject({ event: 'log', reason: expect.stringContaining('adapter_path') });
    expect(parseTrainerLine('[1,2]')).toEqual({ event: 'log', line: '[1,2]' });
    expect(parseTrainerLine('null')).toEqual({ event: 'log', line: 'null' });
    expect(parseTrainerLine('   ')).toBeNull();
  });

  it('gives the same events whatever the chunking, including split UTF-8 characters', () => {
    const bytes = new TextEncoder().encode(recorded + '{"event":"error","message":"CUDA out of memory — 显存不足"}');
    const whole = parseTrainerOutput(new TextDecoder().decode(bytes));
    for (const size of [1, 2, 7, 64, 1000]) {
      const parser = new TrainerStreamParser();
      const events: TrainerEvent[] = [];
      for (let i = 0; i < bytes.length; i += size) events.push(...parser.push(bytes.subarray(i, i + size)));
      events.push(...parser.end()); // the last line has no newline
      expect(events).toEqual(whole);
    }
    expect(whole.at(-1)).toEqual({ event: 'error', message: 'CUDA out of memory — 显存不足' });
  });

  it('handles CRLF line endings', () => {
    const events = parseTrainerOutput('{"event":"checkpoint","path":"c-1"}\r\n{"event":"done","adapter_path":"a"}\r\n');
    expect(kinds(events)).toEqual(['checkpoint', 'done']);
  });
});

describe('etaSeconds', () => {
  it('extrapolates the rate of the steps seen', () => {
    expect(etaSeconds(10, 60, 20)).toBe(100);
    expect(etaSeconds(60, 60, 120)).toBe(0);
  });
  it('counts only the steps run since a resume', () => {
    // resumed at 40, reached 50 in 10 s: 1 step/s, 10 left
    expect(etaSeconds(50, 60, 10, 40)).toBe(10);
  });
  it('is null while there is nothing to go on', () => {
    expect(etaSeconds(0, 60, 5)).toBeNull();
    expect(etaSeconds(40, 60, 0.1, 40)).toBeNull();
    expect(etaSeconds(Number.NaN, 60, 5)).toBeNull();
  });
});
