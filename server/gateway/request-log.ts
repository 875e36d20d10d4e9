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
}

// One statement text whatever the batch size: columns travel as arrays and unnest pairs them up again.
const INSERT = `INSERT INTO request_logs (created_at, api_key_id, user_id, model, deployment_id, replica_id, status, error_type,
  stream, prompt_tokens, completion_tokens, ttft_ms, e2e_ms, overhead_ms, retries, client_address)
  SELECT * FROM unnest($1::timestamptz[], $2::uuid[], $3::uuid[], $4::text[], $5::uuid[], $6::uuid[], $7::int[], $8::text[],
  $9::int[], $10::int[], $11::int[], $12::real[], $13::real[], $14::real[], $15::int[], $16::text[])`;

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
    const cols: unknown[][] = Array.from({ length: 16 }, () => new Array(rows.length));
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
