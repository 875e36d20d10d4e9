import { and, desc, eq, isNull, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { datasets, jobs, legalHolds, users, type Role } from '../../db/schema';
import { isUuid } from '../../core/ids';
import { writeAudit } from '../../security/audit';
import { DomainError } from '../../core/errors';
import type { Message } from './formats';
import { isHeldOut, type DatasetSplit } from './split';
import { openDatasetRows } from './store';
import type { TokenizerInfo } from './tokenizer';
import type { DatasetValidation } from './validate';
import { afterCommit } from '../../db/after-commit';
import { storeFor, type ArtifactStore } from '../../artifacts';
import { errorMessage, log } from '../../core/log';

export type PreviewRow = { index: number; part: 'train' | 'heldOut'; messages: Message[] };
/** What ingest.ts stores in a row's stats (the table types its JSON columns as any object). */
export type DatasetStats = DatasetValidation['stats'] & { tokenizer?: TokenizerInfo };
export type DatasetActor = { id: string; email: string; role: Role; clientAddress?: string };

const columns = {
  id: datasets.id,
  name: datasets.name,
  format: datasets.format,
  rows: datasets.rows,
  sizeBytes: datasets.sizeBytes,
  sha256: datasets.sha256,
  stats: datasets.stats,
  split: datasets.split,
  tokenizerVersionId: datasets.tokenizerVersionId,
  createdAt: datasets.createdAt,
  ownerId: datasets.ownerId,
  ownerEmail: users.email,
};

function typedJson<Row extends { stats: Record<string, unknown>; split: Record<string, unknown> }>(row: Row) {
  return { ...row, stats: row.stats as DatasetStats, split: row.split as DatasetSplit };
}

/**
 * Datasets as one user may see them: their own, or every one for an admin. Each query carries the owner
 * condition, so an id from someone else is simply not found; reading another user's content is audited.
 */
export class Datasets {
  constructor(
    private readonly db: Db,
    private readonly masterKey: Buffer,
    private readonly actor: DatasetActor,
    /** The artifact store, or a data directory (see storeFor). */
    private readonly artifacts: ArtifactStore | string,
  ) {}

  private scope(): SQL | undefined {
    return this.actor.role === 'admin' ? undefined : eq(datasets.ownerId, this.actor.id);
  }

  async list() {
    const rows = await this.db.select(columns).from(datasets).innerJoin(users, eq(users.id, datasets.ownerId)).where(this.scope()).orderBy(desc(datasets.createdAt)).limit(500);
    return rows.map(typedJson);
  }

  async get(id: string) {
    const [row] = isUuid(id)
      ? await this.db
          .select(columns)
          .from(datasets)
          .innerJoin(users, eq(users.id, datasets.ownerId))
          .where(and(eq(datasets.id, id), this.scope()))
      : [];
    if (!row) throw new DomainError('NOT_FOUND', 'Dataset not found');
    return typedJson(row);
  }

  /** The first rows, decrypted and normalised to messages. */
  async preview(id: string, limit: number): Promise<{ rows: PreviewRow[] }> {
    const dataset = await this.get(id);
    if (dataset.ownerId !== this.actor.id)
      await writeAudit(this.db, {
        actorUserId: this.actor.id,
        actorLabel: this.actor.email,
        action: 'datasets.preview',
        target: dataset.id,
        clientAddress: this.actor.clientAddress,
        outcome: 'success',
        detail: { read: true, ownerId: dataset.ownerId, limit },
      });
    const rows: PreviewRow[] = [];
    const split = dataset.split as DatasetSplit;
    for await (const row of openDatasetRows(this.db, this.masterKey, dataset.id, { part: 'all', artifacts: storeFor(this.artifacts, this.db, this.masterKey) })) {
      rows.push({ ...row, part: isHeldOut(row.index, split) ? 'heldOut' : 'train' });
      if (rows.length >= limit) break;
    }
    return { rows };
  }

  /** Deletes the row, then its sealed file; refused while any job refers to the dataset. */
  async delete(id: string): Promise<{ id: string }> {
    const dataset = await this.get(id);
    const [job] = await this.db.select({ id: jobs.id, name: jobs.name }).from(jobs).where(eq(jobs.datasetId, dataset.id)).limit(1);
    if (job) throw new DomainError('CONFLICT', `The job "${job.name}" uses this dataset: delete the job first`);
    // A legal hold on the owner suspends deleting their datasets (a trigger refuses it too); the reason is not shown here.
    const [hold] = await this.db
      .select({ id: legalHolds.id })
      .from(legalHolds)
      .where(and(eq(legalHolds.subjectKind, 'user'), eq(legalHolds.subjectId, dataset.ownerId), isNull(legalHolds.liftedAt)));
    if (hold) throw new DomainError('CONFLICT', 'This dataset is under legal hold: it cannot be deleted until an administrator lifts the hold');
    let row: { storagePath: string } | undefined;
    try {
      [row] = await this.db.delete(datasets).where(eq(datasets.id, dataset.id)).returning({ storagePath: datasets.storagePath });
    } catch (e) {
      // A job created since the check holds a foreign key to the row: the delete fails, and says why.
      if (pgCode(e) === '23503') throw new DomainError('CONFLICT', 'A job uses this dataset: delete the job first');
      throw e;
    }
    // Only once the delete is committed: a rolled-back delete must still find its file.
    // A store that fails here leaves an orphan object (sealed, its row gone), not a failed delete.
    if (row)
      await afterCommit(() =>
        storeFor(this.artifacts, this.db, this.masterKey)
          .delete(row!.storagePath)
          .catch((e: unknown) => log.warn('a deleted dataset\'s object is left in the artifact store', { key: row!.storagePath, error: errorMessage(e) })),
      );
    return { id: dataset.id };
  }
}

/** The PostgreSQL error code of a failed query (drizzle wraps the driver's error as its cause). */
function pgCode(e: unknown): string | undefined {
  for (let c: unknown = e; c && typeof c === 'object'; c = (c as { cause?: unknown }).cause) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}
