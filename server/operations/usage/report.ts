import { sql, type SQL } from 'drizzle-orm';
import { DomainError } from '../../core/errors';
import type { Db } from '../../db/client';

/** The longest range one read covers. */
export const MAX_RANGE_DAYS = 366;
export const USAGE_GROUPS = ['user', 'group', 'key', 'model', 'day'] as const;
export type UsageGroup = (typeof USAGE_GROUPS)[number];

export interface UsageRange {
  from: string;
  to: string;
}

/** Refuses a range that ends before it starts or spans more than MAX_RANGE_DAYS (400, naming the field). */
export function checkRange({ from, to }: UsageRange): void {
  const start = Date.parse(`${from}T00:00:00Z`);
  const end = Date.parse(`${to}T00:00:00Z`);
  if (end < start) throw new DomainError('BAD_REQUEST', 'to: must be on or after from');
  if ((end - start) / 86_400_000 + 1 > MAX_RANGE_DAYS) throw new DomainError('BAD_REQUEST', `to: a range covers at most ${MAX_RANGE_DAYS} days`);
}

export interface UsageTotals {
  requests: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
  /** Null where no row had a price. */
  cost: number | null;
  /** The currency of cost; 'mixed' where prices in different currencies were summed. */
  currency: string | null;
}

// Costs in different currencies do not add up: their sum is shown, its currency as 'mixed'. (No DISTINCT aggregate: it sorts every group.)
const TOTALS = sql`sum(u.requests)::bigint AS requests, sum(u.errors)::bigint AS errors, sum(u.prompt_tokens)::bigint AS prompt_tokens,
  sum(u.completion_tokens)::bigint AS completion_tokens, sum(u.cost)::text AS cost,
  CASE WHEN min(u.currency) = max(u.currency) THEN min(u.currency) WHEN min(u.currency) IS NOT NULL THEN 'mixed' END AS currency`;

type TotalsRow = { requests: string; errors: string; prompt_tokens: string; completion_tokens: string; cost: string | null; currency: string | null };

function totals(r: TotalsRow): UsageTotals {
  return {
    requests: Number(r.requests),
    errors: Number(r.errors),
    promptTokens: Number(r.prompt_tokens),
    completionTokens: Number(r.completion_tokens),
    cost: r.cost === null ? null : Number(r.cost),
    currency: r.currency,
  };
}

function where(range: UsageRange, userId?: string): SQL {
  return userId
    ? sql`u.day BETWEEN ${range.from}::date AND ${range.to}::date AND u.user_id = ${userId}::uuid`
    : sql`u.day BETWEEN ${range.from}::date AND ${range.to}::date`;
}

/** Totals per day (the chart), for one user or everyone. */
export async function usageByDay(db: Db, range: UsageRange, userId?: string): Promise<(UsageTotals & { day: string })[]> {
  const res = await db.execute<TotalsRow & { day: string }>(
    sql`SELECT u.day::text AS day, ${TOTALS} FROM usage_daily u WHERE ${where(range, userId)} GROUP BY u.day ORDER BY u.day`,
  );
  return res.rows.map((r) => ({ day: r.day, ...totals(r) }));
}

/** One user's usage by day and model. */
export async function usageOfUser(db: Db, range: UsageRange, userId: string): Promise<(UsageTotals & { day: string; model: string })[]> {
  const res = await db.execute<TotalsRow & { day: string; model: string }>(
    sql`SELECT u.day::text AS day, u.model, ${TOTALS} FROM usage_daily u WHERE ${where(range, userId)} GROUP BY u.day, u.model ORDER BY u.day, u.model`,
  );
  return res.rows.map((r) => ({ day: r.day, model: r.model, ...totals(r) }));
}

// Grouped first, named after: the labels are joined to a few thousand groups, not to every row.
// By group: each user's usage counts in every group they are in now (so groups may add up to more than
// the total), and usage of people in no group under "no group".
const GROUP_SQL: Record<UsageGroup, { key: SQL; label: SQL; join: SQL; inner?: SQL }> = {
  user: { key: sql`u.user_id::text`, label: sql`us.email`, join: sql`LEFT JOIN users us ON us.id = g.key::uuid` },
  group: {
    key: sql`gm.group_id::text`,
    inner: sql`LEFT JOIN (SELECT DISTINCT group_id, user_id FROM group_members) gm ON gm.user_id = u.user_id`,
    label: sql`gr.name`,
    join: sql`LEFT JOIN groups gr ON gr.id = g.key::uuid`,
  },
  key: { key: sql`u.api_key_id::text`, label: sql`k.name || ' (' || k.prefix || '…)'`, join: sql`LEFT JOIN api_keys k ON k.id = g.key::uuid` },
  model: { key: sql`u.model`, label: sql`g.key`, join: sql`` },
  day: { key: sql`u.day::text`, label: sql`g.key`, join: sql`` },
};

/** Everyone's usage grouped by user, group, key, model or day (the largest token count first; days in order). Null key: none (chat turns carry no key). */
export async function usageSummary(db: Db, range: UsageRange, groupBy: UsageGroup): Promise<(UsageTotals & { key: string | null; label: string | null })[]> {
  const g = GROUP_SQL[groupBy];
  const order = groupBy === 'day' ? sql`g.key` : sql`g.prompt_tokens + g.completion_tokens DESC, g.key`;
  const res = await db.execute<TotalsRow & { key: string | null; label: string | null }>(
    sql`SELECT g.*, ${g.label} AS label
        FROM (SELECT ${g.key} AS key, ${TOTALS} FROM usage_daily u ${g.inner ?? sql``} WHERE ${where(range)} GROUP BY 1) g ${g.join}
        ORDER BY ${order} LIMIT 5000`,
  );
  return res.rows.map((r) => ({ key: r.key, label: r.label, ...totals(r) }));
}

/** A CSV cell: quoted where a spreadsheet would split it; text it would run as a formula gets a leading apostrophe. */
function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export const CSV_COLUMNS = ['day', 'user', 'key', 'model', 'deployment', 'requests', 'errors', 'prompt_tokens', 'completion_tokens', 'cost', 'currency'] as const;

/** The most rows one CSV export holds (it travels as one response): a longer one is refused, naming a shorter range. */
export const CSV_MAX_ROWS = 200_000;

/** Every usage_daily row of the range (one user's, or everyone's), named, as CSV. */
export async function usageCsv(db: Db, range: UsageRange, userId?: string, maxRows = CSV_MAX_ROWS): Promise<string> {
  const res = await db.execute<Record<string, unknown>>(sql`
    SELECT u.day::text AS day, us.email AS "user", k.name AS key, u.model, d.name AS deployment, u.requests, u.errors,
           u.prompt_tokens, u.completion_tokens, u.cost::text AS cost, u.currency
    FROM usage_daily u
    LEFT JOIN users us ON us.id = u.user_id
    LEFT JOIN api_keys k ON k.id = u.api_key_id
    LEFT JOIN deployments d ON d.id = u.deployment_id
    WHERE ${where(range, userId)}
    ORDER BY u.day, us.email NULLS FIRST, k.name NULLS FIRST, u.model, d.name NULLS FIRST
    LIMIT ${maxRows + 1}`);
  if (res.rows.length > maxRows) throw new DomainError('BAD_REQUEST', `to: the range holds more than ${maxRows} rows; export a shorter one`);
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of res.rows) lines.push(CSV_COLUMNS.map((c) => cell(r[c])).join(','));
  return lines.join('\n') + '\n';
}
