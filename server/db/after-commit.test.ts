import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { afterCommit, withCommitHooks } from './after-commit';

// What other processes are told (a queued job, a pub/sub message) must follow the commit it describes:
// told earlier, they read the old rows; told of a change that rolled back, they act on nothing.
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('aftercommit');
  await t.db.execute(sql`CREATE TABLE notes (id int PRIMARY KEY)`);
});
afterAll(async () => {
  await t?.drop();
});

/** What a second connection sees when the hook runs: the committed state or not. */
const visible = async (id: number) => (await t.db.execute(sql`SELECT 1 FROM notes WHERE id = ${id}`)).rows.length === 1;

it('runs hooks once the transaction has committed, in order, nested transactions included', async () => {
  const seen: string[] = [];
  await withCommitHooks(() =>
    t.db.transaction(async (tx) => {
      await tx.execute(sql`INSERT INTO notes VALUES (1)`);
      await afterCommit(async () => seen.push(`first:${await visible(1)}`));
      await tx.transaction(async (inner) => {
        await inner.execute(sql`INSERT INTO notes VALUES (2)`);
        await afterCommit(async () => seen.push(`nested:${await visible(2)}`));
      });
      seen.push('body done');
    }),
  );
  expect(seen).toEqual(['body done', 'first:true', 'nested:true']);
});

it('drops the hooks of a transaction that rolls back', async () => {
  const seen: string[] = [];
  await expect(
    withCommitHooks(() =>
      t.db.transaction(async (tx) => {
        await tx.execute(sql`INSERT INTO notes VALUES (3)`);
        await afterCommit(() => seen.push('told'));
        throw new Error('the procedure failed');
      }),
    ),
  ).rejects.toThrow('the procedure failed');
  expect(seen).toEqual([]);
  expect(await visible(3)).toBe(false);
});

it('a transaction opened outside an API mutation (a worker task, a sign-in route) also holds its hooks until it commits', async () => {
  const seen: string[] = [];
  await t.db.transaction(async (tx) => {
    await tx.execute(sql`INSERT INTO notes VALUES (5)`);
    await afterCommit(async () => seen.push(`told:${await visible(5)}`));
    seen.push('body done');
  });
  await expect(
    t.db.transaction(async (tx) => {
      await tx.execute(sql`INSERT INTO notes VALUES (6)`);
      await afterCommit(() => seen.push('rolled back, yet told'));
      throw new Error('failed');
    }),
  ).rejects.toThrow('failed');
  expect(seen).toEqual(['body done', 'told:true']);
});

it('outside any transaction, runs the hook at once; a failing hook does not fail its caller', async () => {
  const seen: string[] = [];
  await afterCommit(() => seen.push('now'));
  expect(seen).toEqual(['now']);
  await expect(afterCommit(() => Promise.reject(new Error('redis is away')))).resolves.toBeUndefined();
});
