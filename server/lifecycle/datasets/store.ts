import fs from 'node:fs';
import { once } from 'node:events';
import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { datasets } from '../../db/schema';
import { env } from '../../core/env';
import { storeFor, type ArtifactStore } from '../../artifacts';
import { DomainError } from '../../core/errors';
import { isUuid } from '../../core/ids';
import { checkRow, type DatasetFormat, type Message } from './formats';
import { readLines } from './lines';
import { isHeldOut, type DatasetSplit } from './split';

export type DatasetPart = 'train' | 'heldOut' | 'all';
/** One stored row, normalised to chat messages; `index` counts rows (blank lines are not rows), from 0. */
export type DatasetRow = { index: number; messages: Message[] };
export type StoreOptions = {
  part: DatasetPart;
  /** Where the sealed files are: a store, or a data directory (see storeFor); the configured store unless given. */
  dataDir?: string;
  artifacts?: ArtifactStore;
};

// Stored files were validated whole at upload, so no line comes near this; it only bounds a corrupt one.
const MAX_LINE_BYTES = 64 * 1024 * 1024;

async function datasetRow(db: Db, datasetId: string) {
  const [row] = isUuid(datasetId) ? await db.select().from(datasets).where(eq(datasets.id, datasetId)) : [];
  if (!row) throw new DomainError('NOT_FOUND', 'Dataset not found');
  return row;
}

/**
 * The rows of a dataset, decrypted and normalised as they stream from the artifact store, for the server's own jobs (this
 * does not check who asks: callers scope the dataset to a user first). `part` picks the side of the split
 * that was recorded at upload.
 */
export async function* openDatasetRows(db: Db, masterKey: Buffer, datasetId: string, options: StoreOptions): AsyncGenerator<DatasetRow> {
  const row = await datasetRow(db, datasetId);
  const split = row.split as DatasetSplit;
  const store = options.artifacts ?? storeFor(options.dataDir ?? env().dataDir, db, masterKey);
  const plaintext = store.get(row.storagePath);
  let index = 0;
  for await (const line of readLines(plaintext, MAX_LINE_BYTES, () => undefined)) {
    if ('error' in line) throw new Error(`dataset ${row.id}: line ${line.number} cannot be read back (${line.error})`);
    if (line.text.trim() === '') continue;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line.text) as Record<string, unknown>;
    } catch {
      // Not the parser's message: it quotes the line, and this may end up in a job's log.
      throw new Error(`dataset ${row.id}: line ${line.number} is no longer valid JSON`);
    }
    const checked = checkRow(row.format as DatasetFormat, parsed);
    if (!checked.ok) throw new Error(`dataset ${row.id}: line ${line.number} no longer validates (${checked.reason})`);
    const i = index++;
    if (options.part !== 'all' && isHeldOut(i, split) !== (options.part === 'heldOut')) continue;
    yield { index: i, messages: checked.messages };
  }
}

export type DatasetFileFormat = 'jsonl-messages' | 'text';

/**
 * Writes one part of a dataset as plaintext for a trainer (`jsonl-messages`: one {"messages": [...]} per
 * line) or for perplexity evaluation (`text`: each row's turns joined by newlines, rows by a blank line).
 * The file is created with mode 0600 and must be deleted by the caller once the job is done with it.
 */
export async function writeDatasetPart(
  db: Db,
  masterKey: Buffer,
  datasetId: string,
  part: DatasetPart,
  outPath: string,
  format: DatasetFileFormat,
  options: { dataDir?: string; artifacts?: ArtifactStore } = {},
): Promise<{ rows: number; bytes: number }> {
  // An unknown id fails before any file is created.
  await datasetRow(db, datasetId);
  const out = fs.createWriteStream(outPath, { mode: 0o600 });
  let rows = 0;
  let bytes = 0;
  try {
    for await (const row of openDatasetRows(db, masterKey, datasetId, { part, ...options })) {
      const text =
        format === 'jsonl-messages'
          ? `${JSON.stringify({ messages: row.messages })}\n`
          : `${rows > 0 ? '\n' : ''}${row.messages.map((m) => m.content).join('\n')}\n`;
      rows++;
      bytes += Buffer.byteLength(text);
      if (!out.write(text)) await once(out, 'drain');
    }
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  } catch (e) {
    // Wait for the stream to close, or its pending open could recreate the file after the rm.
    if (!out.closed) await new Promise<void>((resolve) => out.destroy().once('close', () => resolve()));
    await fs.promises.rm(outPath, { force: true });
    throw e;
  }
  return { rows, bytes };
}
