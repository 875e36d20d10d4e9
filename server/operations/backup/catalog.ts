import type pg from 'pg';
import type { PartitionSpec } from './manifest';

/**
 * What a logical backup needs to know of the database, read from PostgreSQL's catalog rather than from
 * the Drizzle schema: tables other engineers add (or partition) are backed up without anyone listing them.
 */
type Query = Pick<pg.PoolClient, 'query'>;

export const KEYRING_TABLE = 'data_keys';

/** Session settings under which a row's text form is the same at backup and at every later check. */
export const STABLE_TEXT_SETTINGS = [
  "SET LOCAL TimeZone TO 'UTC'",
  "SET LOCAL DateStyle TO 'ISO, YMD'",
  "SET LOCAL IntervalStyle TO 'postgres'",
  'SET LOCAL extra_float_digits TO 1',
  "SET LOCAL bytea_output TO 'hex'",
];

export const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Every table of the public schema (partitioned tables as their parent; partitions are not tables of their own here). */
export async function listTables(client: Query): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname`,
  );
  return rows.map((r) => r.name);
}

/** The columns COPY carries: stored generated columns are computed again, dropped ones are gone. */
export async function copyColumns(client: Query, table: string): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT attname AS name FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`,
    [`public.${ident(table)}`],
  );
  return rows.map((r) => r.name);
}

/** Tables ordered so every table comes after the tables its foreign keys point to. */
export async function loadOrder(client: Query, tables: string[]): Promise<string[]> {
  const { rows } = await client.query<{ child: string; parent: string }>(
    `SELECT ch.relname AS child, pa.relname AS parent FROM pg_constraint k
       JOIN pg_class ch ON ch.oid = k.conrelid JOIN pg_class pa ON pa.oid = k.confrelid
      WHERE k.contype = 'f' AND ch.relnamespace = 'public'::regnamespace AND NOT ch.relispartition`,
  );
  const known = new Set(tables);
  const needs = new Map(tables.map((t) => [t, new Set<string>()]));
  for (const { child, parent } of rows) if (child !== parent && known.has(child) && known.has(parent)) needs.get(child)!.add(parent);
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (t: string, trail: string[]) => {
    if (state.get(t) === 'done') return;
    if (state.get(t) === 'visiting') throw new Error(`Foreign keys form a cycle (${[...trail, t].join(' → ')}): the load order cannot be decided`);
    state.set(t, 'visiting');
    for (const p of [...needs.get(t)!].sort()) visit(p, [...trail, t]);
    state.set(t, 'done');
    order.push(t);
  };
  for (const t of tables) visit(t, []);
  return order;
}

/** Each partition with its bound and its own triggers, so a restore recreates exactly these before loading rows. */
export async function listPartitions(client: Query): Promise<PartitionSpec[]> {
  const { rows } = await client.query<{ parent: string; name: string; bound: string; triggers: string[] | null }>(
    `SELECT pa.relname AS parent, ch.relname AS name, pg_get_expr(ch.relpartbound, ch.oid) AS bound,
            (SELECT array_agg(pg_get_triggerdef(t.oid) ORDER BY t.tgname) FROM pg_trigger t
              WHERE t.tgrelid = ch.oid AND NOT t.tgisinternal AND t.tgparentid = 0) AS triggers
       FROM pg_inherits i JOIN pg_class ch ON ch.oid = i.inhrelid JOIN pg_class pa ON pa.oid = i.inhparent
      WHERE ch.relispartition AND pa.relnamespace = 'public'::regnamespace
      ORDER BY pa.relname, ch.relname`,
  );
  return rows.map((r) => ({ ...r, triggers: r.triggers ?? [] }));
}

export async function readSequences(client: Query): Promise<{ name: string; lastValue: string; isCalled: boolean }[]> {
  const { rows } = await client.query<{ name: string }>(`SELECT relname AS name FROM pg_class WHERE relkind = 'S' AND relnamespace = 'public'::regnamespace ORDER BY relname`);
  const out = [];
  for (const { name } of rows) {
    const { rows: v } = await client.query<{ last_value: string; is_called: boolean }>(`SELECT last_value::text, is_called FROM public.${ident(name)}`);
    out.push({ name, lastValue: v[0]!.last_value, isCalled: v[0]!.is_called });
  }
  return out;
}

/** A database is empty for a restore when it has no table, view or sequence of its own, and no migration recorded. */
export async function databaseObjects(client: Query): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
        AND c.relkind IN ('r', 'p', 'v', 'm', 'S') ORDER BY 1 LIMIT 5`,
  );
  return rows.map((r) => r.name);
}
