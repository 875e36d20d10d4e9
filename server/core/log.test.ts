import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { users } from '../db/schema';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { errorMessage, log } from './log';

/** The lines the log wrote to stderr while `fn` ran. */
function linesOf(fn: () => void): string[] {
  const chunks: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => chunks.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    fn();
  } finally {
    process.stderr.write = write;
  }
  return chunks.join('').split('\n').filter(Boolean);
}

const level = process.env.LOG_LEVEL;
afterEach(() => {
  if (level === undefined) delete process.env.LOG_LEVEL;
  else process.env.LOG_LEVEL = level;
});

describe('log', () => {
  it('writes one JSON line per event: level, message, metadata and time', () => {
    process.env.LOG_LEVEL = 'info';
    const lines = linesOf(() => {
      log.warn('replica stopped', { replica: 'r1', code: 3 });
      log.info('ready');
    });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/"level":"warn","msg":"replica stopped",/);
    const first = JSON.parse(lines[0]!);
    expect(first).toEqual({ level: 'warn', msg: 'replica stopped', replica: 'r1', code: 3, t: expect.any(String) });
    expect(new Date(first.t).toISOString()).toBe(first.t);
    expect(JSON.parse(lines[1]!)).toEqual({ level: 'info', msg: 'ready', t: expect.any(String) });
  });

  it('drops events under LOG_LEVEL, read on every event, and treats an unknown level as info', () => {
    process.env.LOG_LEVEL = 'warn';
    expect(linesOf(() => log.info('hidden')).length).toBe(0);
    expect(linesOf(() => log.error('shown')).length).toBe(1);
    process.env.LOG_LEVEL = 'debug';
    expect(linesOf(() => log.debug('details')).length).toBe(1);
    process.env.LOG_LEVEL = 'loud';
    expect(linesOf(() => (log.debug('hidden'), log.info('shown'))).map((l) => JSON.parse(l).msg)).toEqual(['shown']);
  });

  it('logs metadata that JSON.stringify cannot write instead of throwing at the caller', () => {
    process.env.LOG_LEVEL = 'info';
    const loop: Record<string, unknown> = { name: 'a' };
    loop.self = loop;
    const [line] = linesOf(() => log.info('odd metadata', { loop, big: 12n }));
    expect(JSON.parse(line!)).toMatchObject({ msg: 'odd metadata', loop: { name: 'a' }, big: 12 });
  });

  it('never writes an Error object found in the metadata (its message may hold what the log must not)', () => {
    process.env.LOG_LEVEL = 'info';
    const [line] = linesOf(() => log.warn('failed', { err: new Error('password=hunter2'), error: new Error('token abc') }));
    expect(line).not.toContain('hunter2');
    expect(line).not.toContain('abc');
  });
});

describe('errorMessage', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase('log');
  });
  afterAll(async () => {
    await t?.drop();
  });

  it('keeps a failed query statement and its reason but not its parameters', async () => {
    const row = { email: 'someone.private@example.org', passwordHash: 'hash-that-must-stay-out', role: 'user' as const, name: 'x' };
    await t.db.insert(users).values(row);
    const failure = await t.db.insert(users).values(row).then(
      () => null,
      (e: unknown) => e,
    );
    const message = errorMessage(failure);
    expect(message).toMatch(/^Failed query: insert into "users"/);
    expect(message).toMatch(/duplicate key value violates unique constraint/);
    expect(message).not.toContain('someone.private');
    expect(message).not.toContain('hash-that-must-stay-out');
  });

  it('is the message of any other error, or the value itself', () => {
    expect(errorMessage(new Error('disk full'))).toBe('disk full');
    expect(errorMessage('plain')).toBe('plain');
  });
});
