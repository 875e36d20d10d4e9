import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { makeDeployment } from '../testing/factories';
import { until } from '../testing/until';
import { createRoutingTable } from './routing-table';

let t: TestDatabase;
let locker: pg.Client;

beforeAll(async () => {
  t = await createTestDatabase('routingtable');
  locker = new pg.Client({ connectionString: t.url });
  await locker.connect();
});
afterAll(async () => {
  await locker?.end();
  await t?.drop();
});

type Table = ReturnType<typeof createRoutingTable>;

/**
 * A table with a reload held at its last read: the experiments table is locked until `release`, so the
 * reload has read deployments and replicas as they were and waits (writes to those two tables go on).
 */
async function withReloadHeld(test: (table: Table, inFlight: Promise<void>, release: () => Promise<void>) => Promise<void>) {
  const table = createRoutingTable(t.db, 60_000);
  try {
    await table.ready;
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE experiments IN ACCESS EXCLUSIVE MODE');
    const inFlight = table.refresh();
    const waiting = async () => (await locker.query(`SELECT count(*)::int AS n FROM pg_locks WHERE relation = 'experiments'::regclass AND NOT granted`)).rows[0].n > 0;
    await until('a reload to have read the deployments', waiting, 10_000);
    await test(table, inFlight, async () => void (await locker.query('COMMIT')));
  } finally {
    await locker.query('ROLLBACK').catch(() => {});
    table.close();
  }
}

test('a refresh asked for after a write sees it, even while an older reload is in flight', async () => {
  await makeDeployment(t.db, {}, ['http://127.0.0.1:9']); // a reload reads replicas only when there are deployments
  await withReloadHeld(async (table, older, release) => {
    const { deployment } = await makeDeployment(t.db, {}, ['http://127.0.0.1:10']);
    const after = table.refresh();
    await release();
    await Promise.all([older, after]);
    expect(table.get(deployment.name)?.replicas).toHaveLength(1);
  });
});

test('callers arriving while a reload runs share one more reload, not one each', async () => {
  await withReloadHeld(async (table, first, release) => {
    const waiting = [table.refresh(), table.refresh(), table.refresh()];
    expect(waiting[1]).toBe(waiting[0]);
    expect(waiting[2]).toBe(waiting[0]);
    expect(waiting[0]).not.toBe(first);
    await release();
    await Promise.all([first, ...waiting]);
  });
});
