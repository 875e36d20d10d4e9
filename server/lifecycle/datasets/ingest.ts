import { randomInt, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Db } from '../../db/client';
import { datasets } from '../../db/schema';
import { dataKeyForSealing } from '../../security/encryption';
import { DomainError } from '../../core/errors';
import type { DatasetFormat } from './formats';
import { SealedFileWriter } from './sealed-file';
import { chooseSplit, type DatasetSplit } from './split';
import { loadTokenizer } from './tokenizer';
import { validateDataset, type LineError } from './validate';
import { createDatasetScanner } from './scan';
import { loadProtectionSettings, raiseLevelAudited } from '../../security/classification';

export type IngestInput = {
  ownerId: string;
  name: string;
  /** Unset: detected from the first valid row. */
  format?: DatasetFormat;
  heldOutFraction: number;
  /** Unset: a random seed that leaves rows on both sides (see chooseSplit). */
  seed?: number;
  tokenizerVersionId?: string;
  maxBytes: number;
};

export type IngestResult =
  | { ok: true; dataset: { id: string; name: string; format: DatasetFormat; rows: number; sizeBytes: number; sha256: string; split: DatasetSplit } }
  | { ok: false; message: string; lines: LineError[]; errorCount: number; truncated: boolean };

/** Where a dataset's sealed file lives, relative to the data directory (the row stores this). */
export const datasetStoragePath = (id: string) => path.join('datasets', `${id}.jsonl.enc`);

/** A random seed when the uploader gave none: recorded with the split, so it can be rebuilt all the same. */
export const newSplitSeed = () => randomInt(0, 2 ** 32 - 1);

/** A partial file is written to with every chunk; one untouched this long was left by a process that died. */
const ABANDONED_AFTER_MS = 60 * 60 * 1000;

/** Best effort: a crash mid-upload must not leave sealed bytes behind for ever. */
async function removeAbandonedPartials(dir: string): Promise<void> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.endsWith('.partial'))) {
    const file = path.join(dir, name);
    const stat = await fs.stat(file).catch(() => null);
    if (stat && Date.now() - stat.mtimeMs > ABANDONED_AFTER_MS) await fs.rm(file, { force: true });
  }
}

/**
 * Streams an upload once: every chunk is counted against the size limit, hashed and validated, and sealed
 * into a file beside its final name. Only when the whole file is valid and the split can be made is the file
 * renamed into place and the row inserted; on any failure the partial file is deleted and no row exists.
 */
export async function ingestDataset(db: Db, masterKey: Buffer, dataDir: string, source: AsyncIterable<Uint8Array>, input: IngestInput): Promise<IngestResult> {
  const id = randomUUID();
  const storagePath = datasetStoragePath(id);
  const finalPath = path.join(dataDir, storagePath);
  await fs.mkdir(path.dirname(finalPath), { recursive: true, mode: 0o700 });
  await removeAbandonedPartials(path.dirname(finalPath));
  const tokenizer = await loadTokenizer(db, input.tokenizerVersionId);
  // Under the owner's own data key: erasing them destroys it (crypto-shredding).
  const dataKey = await dataKeyForSealing(db, masterKey, input.ownerId);
  const writer = await SealedFileWriter.create(`${finalPath}.partial`, dataKey);
  // Sensitive data is counted over the whole file as it streams (types and counts: the dataset's level).
  const scanner = createDatasetScanner(await loadProtectionSettings(db));
  let renamed = false;
  try {
    let received = 0;
    async function* sealing(): AsyncGenerator<Buffer> {
      for await (const raw of source) {
        const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
        received += chunk.length;
        if (received > input.maxBytes) throw new DomainError('PAYLOAD_TOO_LARGE', `The file is larger than the limit of ${input.maxBytes} bytes`);
        await writer.write(chunk);
        scanner.push(chunk);
        yield chunk;
      }
    }
    const result = await validateDataset(sealing(), { tokenize: tokenizer.tokenize, format: input.format, previewRows: 0 });
    if (!result.ok) {
      await writer.abort();
      const message = result.reason ? `The file is not a dataset: ${result.reason}` : `${result.errorCount} line(s) are not valid ${input.format ?? 'dataset'} rows; nothing was stored`;
      return { ok: false, message, lines: result.errors, errorCount: result.errorCount, truncated: result.errorCount > result.errors.length };
    }
    let split: DatasetSplit;
    try {
      split = chooseSplit(result.rows, { heldOutFraction: input.heldOutFraction, seed: input.seed }, newSplitSeed);
    } catch (e) {
      throw new DomainError('BAD_REQUEST', `The split cannot be made: ${(e as Error).message}`);
    }
    await writer.finish();
    await fs.rename(writer.path, finalPath);
    renamed = true;
    const format = result.format!;
    const stats = { ...result.stats, tokenizer: tokenizer.info };
    const found = scanner.finish();
    await db.transaction(async (tx) => {
      await tx.insert(datasets).values({
        id,
        ownerId: input.ownerId,
        name: input.name,
        format,
        storagePath,
        sha256: result.sha256,
        sizeBytes: result.bytes,
        dataKeyId: dataKey.id,
        rows: result.rows,
        stats,
        split,
        tokenizerVersionId: tokenizer.info.kind === 'model' ? tokenizer.info.versionId : null,
      });
      if (Object.keys(found.counts).length > 0) await raiseLevelAudited(tx, input.ownerId, 'dataset', id, found.level, found.counts);
    });
    return { ok: true, dataset: { id, name: input.name, format, rows: result.rows, sizeBytes: result.bytes, sha256: result.sha256, split } };
  } catch (e) {
    await writer.abort();
    if (renamed) await fs.rm(finalPath, { force: true });
    throw e;
  } finally {
    await tokenizer.dispose();
  }
}
