import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_MODEL_PATH } from '../engines/llamacpp/test-support';
import { restartDelayMs } from './backoff';
import { EngineStartError } from './engine-process';
import { createLocalRuntime, type StatusEvent } from './local';

/** Processes whose command line mentions `needle`, read from /proc so nothing escapes the check. */
function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(needle)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function nextStatus(events: StatusEvent[], from: number, status: StatusEvent['status'], timeoutMs = 30_000): Promise<StatusEvent> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = () => {
      const found = events.slice(from).find((e) => e.status === status);
      if (found) resolve(found);
      else if (Date.now() > deadline) reject(new Error(`no ${status} event; saw ${events.map((e) => e.status).join(',')}`));
      else setTimeout(poll, 20);
    };
    poll();
  });
}

const spec = (id: string) => ({ id, name: `runtime-test-${id}`, modelPath: TEST_MODEL_PATH, threads: 1, context: 1024, sequences: 1 });

describe('restartDelayMs', () => {
  it('doubles from the base and stops at the cap', () => {
    const policy = { baseMs: 100, maxMs: 1_000 };
    expect([1, 2, 3, 4, 5, 50].map((n) => restartDelayMs(n, policy))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });
});

describe('local runtime', () => {
  const events: StatusEvent[] = [];
  const runtime = createLocalRuntime({
    onStatus: (event) => events.push(event),
    backoff: { baseMs: 100, maxMs: 1_000 },
    maxConsecutiveFailures: 2,
    stopGraceMs: 3_000,
  });
  const seenPids = new Set<number>();
  afterAll(async () => {
    await runtime.stopAll();
  });

  it('starts an engine, reports starting then ready, and serves it', async () => {
    const info = await runtime.start(spec('a'));
    seenPids.add(info.pid);
    expect(info.url).toBe(`http://127.0.0.1:${info.port}`);
    expect(events.filter((e) => e.id === 'a').map((e) => e.status)).toEqual(['starting', 'ready']);
    expect(events.at(-1)).toMatchObject({ id: 'a', status: 'ready', pid: info.pid, url: info.url, restarts: 0 });
    const models = (await (await fetch(`${info.url}/v1/models`)).json()) as any;
    expect(models.data[0].id).toBe('runtime-test-a');
    expect(runtime.list()).toEqual([expect.objectContaining({ id: 'a', status: 'ready', pid: info.pid, restarts: 0 })]);
    await expect(runtime.start(spec('a'))).rejects.toThrow(/already running/);
  });

  it('restarts a killed engine with growing backoff, then gives up after too many crashes in a row', async () => {
    const firstPid = runtime.list()[0]!.pid!;
    let from = events.length;
    process.kill(firstPid, 'SIGKILL');
    const crash = await nextStatus(events, from, 'failed');
    expect(crash).toMatchObject({ id: 'a', restartInMs: 100 });
    expect(crash.error).toMatch(/SIGKILL/);
    const back = await nextStatus(events, from, 'ready');
    seenPids.add(back.pid!);
    expect(back.pid).not.toBe(firstPid);
    expect(back.restarts).toBe(1);
    expect((await fetch(`${back.url}/health`)).status).toBe(200);

    from = events.length;
    process.kill(back.pid!, 'SIGKILL');
    expect(await nextStatus(events, from, 'failed')).toMatchObject({ restartInMs: 200 });
    const again = await nextStatus(events, from, 'ready');
    seenPids.add(again.pid!);
    expect(again.restarts).toBe(2);

    from = events.length;
    process.kill(again.pid!, 'SIGKILL');
    const gaveUp = await nextStatus(events, from, 'failed');
    expect(gaveUp.restartInMs).toBeUndefined();
    expect(gaveUp.error).toMatch(/gave up/);
    await new Promise((r) => setTimeout(r, 500));
    expect(events.slice(from).map((e) => e.status)).toEqual(['failed']);
    expect(runtime.list()[0]).toMatchObject({ id: 'a', status: 'failed', pid: undefined });
  });

  it('rejects a start that cannot succeed, with the engine log, and leaves no process', async () => {
    const bad = { ...spec('missing'), modelPath: '/nonexistent/model.gguf' };
    const failure = await runtime.start(bad).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(EngineStartError);
    expect((failure as EngineStartError).message).toMatch(/exited/);
    expect(events.at(-1)).toMatchObject({ id: 'missing', status: 'failed' });
    expect(runtime.list().map((r) => r.id)).not.toContain('missing');
    expect(processesMentioning('runtime-test-missing')).toEqual([]);
  });

  it('stopAll stops every engine, including one still starting, and leaves nothing running', async () => {
    const b = await runtime.start(spec('b'));
    seenPids.add(b.pid);
    const starting = runtime.start(spec('c')).catch((error: unknown) => error);
    await nextStatus(events, 0, 'starting');
    await runtime.stopAll();
    expect(await starting).toBeInstanceOf(Error);
    expect(runtime.list()).toEqual([]);
    for (const pid of seenPids) expect(isAlive(pid)).toBe(false);
    expect(processesMentioning('runtime-test-')).toEqual([]);
    expect(events.filter((e) => e.status === 'stopped').map((e) => e.id).sort()).toEqual(['a', 'b', 'c']);
  });
});
