import { afterAll, beforeAll, expect, test } from 'vitest';
import { createDb, type Db } from './client';
import { singleFlight } from './single-flight';
import { createEmptyTestDatabase, type TestDatabase } from '../testing/database';

/** Two pools on one database stand for two worker processes sharing it. */
let t: TestDatabase;
let other: Db;
beforeAll(async () => {
  t = await createEmptyTestDatabase('singleflight');
  other = createDb(t.url, 3);
});
afterAll(async () => {
  await other?.$client.end();
  await t?.drop();
});

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

test('two processes racing for one duty: one runs it, the other steps aside, and the next run after it goes ahead', async () => {
  const held = gate();
  const entered = gate();
  let runs = 0;
  const first = singleFlight(t.db, 'duty:a', async () => {
    runs++;
    entered.open();
    await held.opened;
    return 'first';
  });
  await entered.opened;
  expect(await singleFlight(other, 'duty:a', async () => void runs++)).toBe('busy');
  // Another duty is not held up by this one.
  expect(await singleFlight(other, 'duty:b', async () => 'b')).toBe('b');
  held.open();
  expect(await first).toBe('first');
  expect(await singleFlight(other, 'duty:a', async () => (runs++, 'second'))).toBe('second');
  expect(runs).toBe(2);
});

test('a duty that throws releases the lock', async () => {
  await expect(singleFlight(t.db, 'duty:c', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  expect(await singleFlight(other, 'duty:c', async () => 'ran')).toBe('ran');
});

test('a holder whose connection dies (its process killed) frees the duty for the others', async () => {
  const entered = gate();
  const held = gate();
  const first = singleFlight(t.db, 'duty:d', async () => {
    entered.open();
    await held.opened;
  }).catch(() => 'lost');
  try {
    await entered.opened;
    expect(await singleFlight(other, 'duty:d', async () => 'ran')).toBe('busy');
    // What kill -9 of the holding process does to its session: the server ends it. The timeout makes
    // pg_terminate_backend wait for the backend to be gone (and its lock with it): without it, a loaded
    // machine tried the lock again before the backend had exited.
    await other.$client.query(`SELECT pg_terminate_backend(pid, 10000) FROM pg_locks WHERE locktype = 'advisory' AND objid = hashtext('duty:d')::oid AND granted`);
    expect(await singleFlight(other, 'duty:d', async () => 'ran')).toBe('ran');
  } finally {
    // Never leave the holder waiting: its pool could not be closed after the tests.
    held.open();
    await first;
  }
});
