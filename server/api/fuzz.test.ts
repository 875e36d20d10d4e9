import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempDir } from '../lifecycle/jobs/testing/fixtures';
import { closeRedis } from '../core/redis';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';
import { deepJson, hostileObject, hostileValue, samples } from '../testing/hostile-json';
import { startApiTestServer } from './testing/api-test-server';
import { inputKeys, procedureKind, procedurePaths } from './testing/procedures';

/**
 * Every tRPC procedure, as nobody and as three roles, with hostile JSON from a fixed seed (NUL, lone
 * surrogates, deep nesting, huge numbers, wrong types, unknown and prototype keys, the procedure's own
 * field names holding all of that). What must hold for every call: no 5xx; an error says what was
 * wrong in tRPC's shape; and no transaction commits a change without an audit row — checked by
 * triggers that note every transaction writing each table.
 */
process.env.REDIS_PREFIX = testRedisPrefix('apifuzz');
const SEED = 20261205;
const PER_PROCEDURE = 10;
let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let dataDir: string;
const cookies: Record<string, string | undefined> = { anonymous: undefined };

beforeAll(async () => {
  t = await createTestDatabase('apifuzz');
  dataDir = tempDir('apifuzz');
  api = await startApiTestServer({ db: t.db, masterKey: randomBytes(32), env: { ENCLAVE_DATA_DIR: dataDir } });
  for (const role of ['user', 'engineer', 'admin']) cookies[role] = (await api.userSession(role)).cookie;
  // Which transaction wrote which table: read after the run to find changes committed without an audit row.
  // (A trigger on a partitioned table reports the partition: audit rows land in audit_log_<month>.)
  await t.db.execute(sql`CREATE TABLE fuzz_writes (txid bigint NOT NULL, tbl text NOT NULL)`);
  await t.db.execute(sql`
    CREATE FUNCTION fuzz_note() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- A session's "last seen" (written at most once a minute by any signed-in request) is bookkeeping,
      -- not a change anyone made: a run longer than a minute writes it, unaudited by design.
      IF TG_TABLE_NAME = 'sessions' AND TG_OP = 'UPDATE' AND (to_jsonb(NEW) - 'last_seen_at') = (to_jsonb(OLD) - 'last_seen_at') THEN RETURN NULL; END IF;
      INSERT INTO fuzz_writes VALUES (txid_current(), TG_TABLE_NAME); RETURN NULL;
    END $$`);
  const tables = await t.db.execute<{ name: string }>(sql`
    SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname <> 'fuzz_writes'`);
  for (const { name } of tables.rows)
    await t.db.execute(sql.raw(`CREATE TRIGGER fuzz_note AFTER INSERT OR UPDATE OR DELETE ON "${name}" FOR EACH ROW EXECUTE FUNCTION fuzz_note()`));
});
afterAll(async () => {
  await api?.close();
  await closeRedis();
  await t?.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** A tRPC call with a raw body or input text, so deep nesting travels as it would from an attacker. */
async function send(path: string, json: string, cookie: string | undefined) {
  const kind = procedureKind(path);
  const res =
    kind === 'query'
      ? await api.request(`/api/trpc/${path}?input=${encodeURIComponent(json)}`, { cookie })
      : await api.request(`/api/trpc/${path}`, { method: 'POST', body: json, cookie });
  const text = await res.text();
  let body: { error?: { message?: unknown; data?: { code?: unknown } }; result?: unknown };
  try {
    body = JSON.parse(text);
  } catch {
    body = {};
  }
  return { status: res.status, body, text };
}

it('no hostile input gets a 5xx, every refusal says what was wrong, and no change commits without its audit row', async () => {
  const statuses = new Map<number, number>();
  const problems: string[] = [];
  let requests = 0;
  for (const path of procedurePaths()) {
    const inputs = [
      ...samples(hostileObject(inputKeys(path)), PER_PROCEDURE - 3, SEED + path.length).map((v) => JSON.stringify(v)),
      ...samples(hostileValue, 2, SEED).map((v) => JSON.stringify(v) ?? 'null'),
      deepJson(5000, inputKeys(path)[0] ?? 'id'),
    ];
    for (const [who, cookie] of Object.entries(cookies)) {
      // Signing out would end the session the next calls use.
      if (path === 'auth.signOut' && who !== 'anonymous') continue;
      for (const json of inputs) {
        const r = await send(path, json, cookie);
        requests++;
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status >= 500) problems.push(`${path} as ${who}: ${r.status} ${r.text.slice(0, 200)} for ${json.slice(0, 200)}`);
        else if (r.status >= 400 && typeof r.body.error?.message !== 'string') problems.push(`${path} as ${who}: ${r.status} without an error message`);
      }
    }
  }
  console.log(`tRPC fuzz: ${requests} requests, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
  expect(problems).toEqual([]);

  const unaudited = await t.db.execute<{ txid: string; tables: string[] }>(sql`
    SELECT txid::text, array_agg(DISTINCT tbl) AS tables FROM fuzz_writes GROUP BY txid HAVING NOT bool_or(tbl = 'audit_log' OR tbl LIKE 'audit\_log\_%')`);
  expect(unaudited.rows).toEqual([]);
  // Still serving, and the chain still verifies.
  const verify = await api.trpc('query', 'audit.verify', undefined, cookies.admin);
  expect(verify.data.ok).toBe(true);
}, 600_000);
