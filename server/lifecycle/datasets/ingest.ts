import { randomInt, randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Db } from '../../db/client';
import { datasets } from '../../db/schema';
import { DomainError } from '../../core/errors';
import { ArtifactError, storeFor, type ArtifactStore } from '../../artifacts';
import { errorMessage, log } from '../../core/log';
import type { DatasetFormat } from './formats';
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

/**
 * A dataset's key in the artifact store (the row stores this). With the directory store over the data
 * directory it is the file's path there, as it was before the store existed.
 */
export const datasetStoragePath = (id: string) => path.posix.join('datasets', `${id}.jsonl.enc`);

/** A random seed when the uploader gave none: recorded with the split, so it can be rebuilt all the same. */
export const newSplitSeed = () => randomInt(0, 2 ** 32 - 1);

/**
 * Streams an upload once: every chunk is counted against the size limit, hashed and validated, and sealed
 * into the artifact store as it arrives (a shared directory or S3: any web process may take the upload,
 * any worker reads it). Only when the whole file is valid and the split can be made is the object completed
 * and the row inserted; on any failure the partial object is discarded and no row exists.
 * `artifacts`: the store, or a data directory (see storeFor).
 */
export async function ingestDataset(db: Db, masterKey: Buffer, artifacts: ArtifactStore | string, source: AsyncIterable<Uint8Array>, input: IngestInput): Promise<IngestResult> {
  const id = randomUUID();
  const storagePath = datasetStoragePath(id);
  const store = storeFor(artifacts, db, masterKey);
  const tokenizer = await loadTokenizer(db, input.tokenizerVersionId);
  // Under the owner's own data key: erasing them destroys it (crypto-shredding).
  const writer = await store.writer(storagePath, { owner: input.ownerId });
  // Sensitive data is counted over the whole file as it streams (types and counts: the dataset's level).
  const scanner = createDatasetScanner(await loadProtectionSettings(db));
  let stored = false;
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
    const written = await writer.finish();
    stored = true;
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
        dataKeyId: written.dataKeyId,
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
    if (stored) await store.delete(storagePath).catch(() => undefined);
    throw storeUnavailable(e);
  } finally {
    await tokenizer.dispose();
  }
}

/**
 * The store failing (a bucket unreachable or refusing us) is not the uploader's fault and not a crash: a 503
 * that says nothing was stored, with the cause in the log for the operator.
 */
function storeUnavailable(e: unknown): unknown {
  if (!(e instanceof ArtifactError) || e.code === 'NOT_FOUND' || e.code === 'CORRUPT') return e;
  log.error('the artifact store failed while a dataset was uploaded', { error: errorMessage(e) });
  return new DomainError('SERVICE_UNAVAILABLE', 'The artifact store cannot be reached: the dataset was not stored. Try again later');
}
