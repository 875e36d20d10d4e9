import type { Db } from '../db/client';

/** One request_logs row. Never the prompt or the completion. */
export interface RequestLogRow {
  createdAt: Date;
  apiKeyId: string | null;
  userId: string | null;
  model: string;
  deploymentId: string | null;
  replicaId: string | null;
  status: number;
  errorType: string | null;
  stream: boolean;
  promptTokens: number | null;
  completionTokens: number | null;
  ttftMs: number | null;
  e2eMs: number;
  overheadMs: number;
  retries: number;
  clientAddress: string | null;
  experimentId: string | null;
  variantId: string | null;
  tpotMs: number | null;
  /** Gaps between streamed token chunks (ms); null when not streamed. */
  itlMs: readonly number[] | null;
  /** Response cache: 'hit', 'miss' (looked up, answered live), or null/absent (not cacheable). */
  cache?: 'hit' | 'miss' | null;
  /** When a fallback answered (deploymentId): the deployment asked for, and why. */
  fallbackFromId?: string | null;
  fallbackReason?: string | null;
}

/** Each column of request_logs: its name, the PostgreSQL type of its array in the INSERT, and its value. */
const COLUMNS: [name: string, arrayType: string, value: (r: RequestLogRow) => unknown][] = [
  ['created_at', 'timestamptz', (r) => r.createdAt.toISOString()],
  ['api_key_id', 'uuid', (r) => r.apiKeyId],
  ['user_id', 'uuid', (r) => r.userId],
  ['model', 'text', (r) => r.model],
  ['deployment_id', 'uuid', (r) => r.deploymentId],
  ['replica_id', 'uuid', (r) => r.replicaId],
  ['status', 'int', (r) => r.status],
  ['error_type', 'text', (r) => r.errorType],
  ['stream', 'int', (r) => (r.stream ? 1 : 0)],
  ['prompt_tokens', 'int', (r) => r.promptTokens],
  ['completion_tokens', 'int', (r) => r.completionTokens],
  ['ttft_ms', 'real', (r) => r.ttftMs],
  ['e2e_ms', 'real', (r) => r.e2eMs],
  ['overhead_ms', 'real', (r) => r.overheadMs],
  ['retries', 'int', (r) => r.retries],
  ['client_address', 'text', (r) => r.clientAddress],
  ['experiment_id', 'uuid', (r) => r.experimentId],
  ['variant_id', 'uuid', (r) => r.variantId],
  ['tpot_ms', 'real', (r) => r.tpotMs],
  // unnest would flatten a 2-D array, so each row's gaps travel as one array literal ('{1.5,2}'), cast per row.
  ['itl_ms', 'text', (r) => arrayLiteral(r.itlMs)],
  ['cache', 'text', (r) => r.cache ?? null],
  ['fallback_from_id', 'uuid', (r) => r.fallbackFromId ?? null],
  ['fallback_reason', 'text', (r) => r.fallbackReason ?? null],
];

// One statement text whatever the batch size: columns travel as arrays and unnest pairs them up again.
const INSERT = `INSERT INTO request_logs (${COLUMNS.map(([name]) => name).join(', ')})
  SELECT ${COLUMNS.map(([name], i) => `c${i + 1}${name === 'itl_ms' ? '::real[]' : ''}`).join(', ')}
  FROM unnest(${COLUMNS.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ')})
  AS u(${COLUMNS.map((_, i) => `c${i + 1}`).join(', ')})`;

/** A PostgreSQL array literal of the gaps, rounded to µs (the column is real anyway). */
function arrayLiteral(values: readonly number[] | null): string | null {
  if (!values) return null;
  let out = '{';
  for (let i = 0; i < values.length; i++) out += (i ? ',' : '') + (Math.round(values[i]! * 1000) / 1000).toString();
  return out + '}';
}

/** Text PostgreSQL can store: no NUL, no lone surrogate (which UTF-8 would turn into something else). */
function storableText(value: string | null): string | null {
  if (value === null) return null;
  return value.includes('\u0000') || !value.isWellFormed() ? value.replaceAll('\u0000', '').toWellFormed() : value;
}

/**
 * Buffers rows in memory and writes them in one INSERT every `intervalMs` or every `maxRows`, so the hot
 * path only pushes to an array. Also records which keys were used, to update api_keys.last_used_at in
 * the same flush. Logs must never stall requests, and one row must never cost the others: text is made
 * storable on the way in, a batch that fails anyway is written again row by row (only a row that fails
 * on its own is dropped, reported to `onError`), and last_used_at is updated whatever the rows did.
 */
export function createRequestLogWriter(db: Db, opts: { intervalMs?: number; maxRows?: number; onError?: (err: unknown) => void } = {}) {
  const intervalMs = opts.intervalMs ?? 250;
  const maxRows = opts.maxRows ?? 500;
  let buffer: RequestLogRow[] = [];
  let usedKeys = new Set<string>();
  let inFlight: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const columns = (rows: RequestLogRow[]): unknown[][] => COLUMNS.map(([, , value]) => rows.map(value));

  async function write(rows: RequestLogRow[], keys: string[]): Promise<void> {
    try {
      await db.$client.query(INSERT, columns(rows));
    } catch (err) {
      if (rows.length === 1) opts.onError?.(err);
      else for (const row of rows) await db.$client.query(INSERT, columns([row])).catch((e) => opts.onError?.(e));
    }
    try {
      if (keys.length) await db.$client.query('UPDATE api_keys SET last_used_at = now() WHERE id = ANY($1::uuid[])', [keys]);
    } catch (err) {
      opts.onError?.(err);
    }
  }

  function flush(): Promise<void> {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (buffer.length === 0) return inFlight;
    const rows = buffer;
    const keys = [...usedKeys];
    buffer = [];
    usedKeys = new Set();
    // Writes run one after another so a slow database never gets a pile of concurrent inserts.
    inFlight = inFlight.then(() => write(rows, keys));
    return inFlight;
  }

  return {
    push(row: RequestLogRow): void {
      if (closed) return;
      row.model = storableText(row.model)!;
      row.errorType = storableText(row.errorType);
      row.clientAddress = storableText(row.clientAddress);
      buffer.push(row);
      if (row.apiKeyId) usedKeys.add(row.apiKeyId);
      if (buffer.length >= maxRows) void flush();
      else if (!timer) {
        timer = setTimeout(flush, intervalMs);
        timer.unref();
      }
    },
    flush,
    async close(): Promise<void> {
      await flush();
      closed = true;
    },
  };
}

export type RequestLogWriter = ReturnType<typeof createRequestLogWriter>;
