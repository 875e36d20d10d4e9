import fs from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/types';

/**
 * Where a piece of text still is: every text, varchar, jsonb and bytea column of every table (bytea
 * searched for its UTF-8 bytes), and every file under a folder. For the erasure tests' proof and for an
 * operator's spot check; it reads whole tables, so it is not for a hot path.
 */
export async function findText(db: DbOrTx, needle: string, dataDir?: string): Promise<{ rows: string[]; files: string[] }> {
  const columns = await db.execute<{ table_name: string; column_name: string; data_type: string }>(sql`
    SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
    JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
    WHERE c.table_schema = 'public' AND c.data_type IN ('text', 'character varying', 'jsonb', 'json', 'bytea', 'ARRAY')`);
  const rows: string[] = [];
  for (const c of columns.rows) {
    const col = sql.identifier(c.column_name);
    const condition =
      c.data_type === 'bytea' ? sql`position(convert_to(${needle}, 'UTF8') in ${col}) > 0` : sql`strpos(${col}::text, ${needle}) > 0`;
    const found = await db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM ${sql.identifier(c.table_name)} WHERE ${condition}`);
    if (found.rows[0]!.n) rows.push(`${c.table_name}.${c.column_name}: ${found.rows[0]!.n}`);
  }
  const files: string[] = [];
  if (dataDir) {
    const bytes = Buffer.from(needle, 'utf8');
    for (const entry of await fs.readdir(dataDir, { recursive: true, withFileTypes: true }).catch(() => [])) {
      if (!entry.isFile()) continue;
      const file = path.join(entry.parentPath, entry.name);
      if ((await fs.readFile(file)).includes(bytes)) files.push(file);
    }
  }
  return { rows, files };
}
