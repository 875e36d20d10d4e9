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
}

// One statement text whatever the batch size: columns travel as arrays and unnest pairs them up again.
// itl_ms is itself an array, and unnest would flatten a 2-D array, so each row's gaps travel as one
// array literal ('{1.5,2}') and are cast per row.
const INSERT = `INSERT INTO request_logs (created_at, api_key_id, user_id, model, deployment_id, replica_id, status, error_type,
  stream, prompt_tokens, completion_tokens, ttft_ms, e2e_ms, overhead_ms, retries, client_address,
  experiment_id, variant_id, tpot_ms, itl_ms)
  SELECT c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, c19, c20::real[]
  FROM unnest($1::timestamptz[], $2::uuid[], $3::uuid[], $4::text[], $5::uuid[], $6::uuid[], $7::int[], $8::text[],
  $9::int[], $10::int[], $11::int[], $12::real[], $13::real[], $14::real[], $15::int[], $16::text[],
  $17::uuid[], $18::uuid[], $19::real[], $20::text[])
  AS u(c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, c19, c20)`;

/** A PostgreSQL array literal of the gaps, rounded to µs (the column is real anyway). */
function arrayLiteral(values: readonly number[] | null): string | null {
  if (!values) return null;
  let out = '{';
  for (let i = 0; i < values.length; i++) out += (i ? ',' : '') + (Math.round(values[i]! * 1000) / 1000).toString();
  return out + '}';
}

/**
 * Buffers rows in memory and writes them in one INSERT every `intervalMs` or every `maxRows`, so the hot
 * path only pushes to an array. Also records which keys were used, to update api_keys.last_used_at in
 * the same flush. A failed write is reported to `onError` and dropped: logs must never stall requests.
 */
export function createRequestLogWriter(db: Db, opts: { intervalMs?: number; maxRows?: number; onError?: (err: unknown) => void } = {}) {
  const intervalMs = opts.intervalMs ?? 250;
  const maxRows = opts.maxRows ?? 500;
  let buffer: RequestLogRow[] = [];
  let usedKeys = new Set<string>();
  let inFlight: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  async function write(rows: RequestLogRow[], keys: string[]): Promise<void> {
    const cols: unknown[][] = Array.from({ length: 20 }, () => new Array(rows.length));
    rows.forEach((r, i) => {
      cols[0]![i] = r.createdAt.toISOString();
      cols[1]![i] = r.apiKeyId;
      cols[2]![i] = r.userId;
      cols[3]![i] = r.model;
      cols[4]![i] = r.deploymentId;
      cols[5]![i] = r.replicaId;
      cols[6]![i] = r.status;
      cols[7]![i] = r.errorType;
      cols[8]![i] = r.stream ? 1 : 0;
      cols[9]![i] = r.promptTokens;
      cols[10]![i] = r.completionTokens;
      cols[11]![i] = r.ttftMs;
      cols[12]![i] = r.e2eMs;
      cols[13]![i] = r.overheadMs;
      cols[14]![i] = r.retries;
      cols[15]![i] = r.clientAddress;
      cols[16]![i] = r.experimentId;
      cols[17]![i] = r.variantId;
      cols[18]![i] = r.tpotMs;
      cols[19]![i] = arrayLiteral(r.itlMs);
    });
    try {
      await db.$client.query(INSERT, cols);
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
