import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { and, asc, desc, eq, gt, gte, lt } from 'drizzle-orm';
import type { Env } from '../core/env';
import { errorMessage, log } from '../core/log';
import { auditMonths, dropAuditMonth, type AuditMonth } from '../db/audit-partitions';
import type { Db } from '../db/client';
import { auditLog } from '../db/schema';
import { writeAudit } from './audit';
import { archivedBase, PARTITION_ARCHIVED, type ArchiveRecord } from './audit-chain-start';
import { auditRowHash } from './audit-hash';

/** The least retention any setting may ask for: what the owner's drop function (migration 0020) also enforces. */
export const MIN_AUDIT_RETENTION_DAYS = 180;
const DAY_MS = 86_400_000;

export function auditArchiveDir(env: Pick<Env, 'dataDir' | 'ENCLAVE_AUDIT_ARCHIVE_DIR'>): string {
  return path.resolve(env.ENCLAVE_AUDIT_ARCHIVE_DIR ?? path.join(env.dataDir, 'audit-archive'));
}

export interface AuditArchiveSettings {
  dir: string;
  retentionDays: number;
  /** The live anchor file: the checkpoints covering a month are copied beside its rows. */
  anchorFile: string;
}

/** The manifest written beside a month's rows: sizes and SHA-256 of each file, and where the chain stands. */
export interface AuditArchiveManifest {
  v: 1;
  partition: string;
  from: string;
  to: string;
  fromId: number;
  toId: number;
  rows: number;
  /** The hash the month's first row links to, and its last row's hash. */
  firstPrevHash: string;
  lastHash: string;
  archivedRowsTotal: number;
  createdAt: string;
  files: Record<string, { bytes: number; sha256: string }>;
}

export type ArchiveOutcome = { archived: ArchiveRecord[] } & ({ ok: true } | { ok: false; partition: string; error: string });

/**
 * The maintenance task: every month whose last row is past retention, oldest first, is exported to
 * `<dir>/<partition>/` (rows.jsonl, the anchor lines covering them, manifest.json), read back and checked,
 * recorded in the chain (`audit.partition_archived`: its last hash and the rows archived so far, so
 * verification goes on without it), and only then dropped. Any failure stops the run with the month kept,
 * logged as an error and audited as a failure; the next run tries again.
 */
export async function archiveExpiredAuditMonths(db: Db, settings: AuditArchiveSettings, now = new Date()): Promise<ArchiveOutcome> {
  const retentionDays = Math.max(settings.retentionDays, MIN_AUDIT_RETENTION_DAYS);
  const cutoff = now.getTime() - retentionDays * DAY_MS;
  const archived: ArchiveRecord[] = [];
  for (const month of await auditMonths(db)) {
    if (month.to.getTime() > cutoff) break;
    try {
      archived.push(await archiveMonth(db, settings, month));
    } catch (e) {
      const error = errorMessage(e);
      log.error('audit archive failed: the month is kept', { partition: month.name, error });
      await writeAudit(db, { actorLabel: 'system', action: PARTITION_ARCHIVED, target: month.name, outcome: 'failure', detail: { error } }).catch(() => {});
      return { archived, ok: false, partition: month.name, error };
    }
  }
  return { archived, ok: true };
}

async function archiveMonth(db: Db, settings: AuditArchiveSettings, month: AuditMonth): Promise<ArchiveRecord> {
  // A run that recorded the archive but failed to drop: the same record stands, the drop is retried.
  const recorded = await archiveRecordOf(db, month.name);
  if (recorded) {
    checkManifest(path.join(recorded.dir, 'manifest.json'), recorded.manifestSha256);
    await dropAuditMonth(db, month.name);
    return recorded;
  }
  const base = await archivedBase(db);
  const inMonth = and(gte(auditLog.at, month.from), lt(auditLog.at, month.to));
  const [first] = await db.select({ id: auditLog.id }).from(auditLog).where(inMonth).orderBy(asc(auditLog.id)).limit(1);
  // The month must be the chain's start and one unbroken run of ids, or dropping it would cut the chain.
  if (first) {
    if (first.id !== base.oldestId) throw new Error(`${month.name} does not start the chain (row #${first.id}; the oldest is #${base.oldestId})`);
    const [later] = await db.select({ id: auditLog.id }).from(auditLog).where(gte(auditLog.at, month.to)).orderBy(asc(auditLog.id)).limit(1);
    const [lastInMonth] = await db.select({ id: auditLog.id }).from(auditLog).where(inMonth).orderBy(desc(auditLog.id)).limit(1);
    if (later && later.id < lastInMonth!.id) throw new Error(`${month.name} holds row #${lastInMonth!.id}, after row #${later.id} of a later month`);
  }
  const dir = path.join(settings.dir, month.name);
  const staging = stage(dir);
  // Streamed in pages, each row checked against the chain as it is written: a month may hold millions.
  const out = fs.openSync(path.join(staging, 'rows.jsonl'), 'w', 0o600);
  const digest = createHash('sha256');
  let bytes = 0;
  let rows = 0;
  let prevHash = base.prevHash;
  let afterId = 0;
  let lastId = 0;
  try {
    for (;;) {
      const page = await db.select().from(auditLog).where(and(inMonth, gt(auditLog.id, afterId))).orderBy(asc(auditLog.id)).limit(5000);
      if (!page.length) break;
      let chunk = '';
      for (const r of page) {
        const expected = auditRowHash(prevHash, { at: r.at, actorUserId: r.actorUserId, actorLabel: r.actorLabel, action: r.action, target: r.target, clientAddress: r.clientAddress, outcome: r.outcome, detail: r.detail });
        if (r.prevHash !== prevHash || r.hash !== expected) throw new Error(`row #${r.id} does not verify; run \`enclave audit verify\` before archiving`);
        prevHash = r.hash;
        chunk += JSON.stringify({ ...r, at: r.at.toISOString() }) + '\n';
      }
      fs.writeSync(out, chunk);
      digest.update(chunk);
      bytes += Buffer.byteLength(chunk);
      rows += page.length;
      afterId = lastId = page.at(-1)!.id;
    }
    fs.fsyncSync(out);
  } finally {
    fs.closeSync(out);
  }
  const [lastArchived] = await db
    .select({ detail: auditLog.detail })
    .from(auditLog)
    .where(and(eq(auditLog.action, PARTITION_ARCHIVED), eq(auditLog.outcome, 'success')))
    .orderBy(desc(auditLog.id))
    .limit(1);
  const before = lastArchived ? (lastArchived.detail as unknown as ArchiveRecord).archivedRowsTotal : base.archivedRows;
  const manifest: Omit<AuditArchiveManifest, 'files' | 'createdAt'> = {
    v: 1,
    partition: month.name,
    from: month.from.toISOString(),
    to: month.to.toISOString(),
    fromId: first?.id ?? 0,
    toId: lastId,
    rows,
    firstPrevHash: base.prevHash,
    lastHash: prevHash,
    archivedRowsTotal: before + rows,
  };
  const manifestSha256 = finishArchive(staging, dir, manifest, { bytes, sha256: digest.digest('hex') }, coveringAnchors(settings.anchorFile, manifest.fromId, manifest.toId));
  const record: ArchiveRecord = {
    partition: month.name,
    fromId: manifest.fromId,
    toId: manifest.toId,
    rows: manifest.rows,
    lastHash: manifest.lastHash,
    archivedRowsTotal: manifest.archivedRowsTotal,
    manifestSha256,
    dir,
  };
  await writeAudit(db, { actorLabel: 'system', action: PARTITION_ARCHIVED, target: month.name, outcome: 'success', detail: { ...record } });
  await dropAuditMonth(db, month.name);
  log.info('audit month archived and dropped', { partition: month.name, rows, dir });
  return record;
}

async function archiveRecordOf(db: Db, partition: string): Promise<ArchiveRecord | undefined> {
  const [row] = await db
    .select({ detail: auditLog.detail })
    .from(auditLog)
    .where(and(eq(auditLog.action, PARTITION_ARCHIVED), eq(auditLog.target, partition), eq(auditLog.outcome, 'success')))
    .orderBy(desc(auditLog.id))
    .limit(1);
  return row?.detail as unknown as ArchiveRecord | undefined;
}

/**
 * The anchor lines (as written, MAC and all) whose checkpoint names a row of the month, and the first one
 * after it, whose count covers the month's rows too. `enclave audit verify-archive` style checks can
 * authenticate them with the master key; the archive never needs the database to be believed.
 */
function coveringAnchors(anchorFile: string, fromId: number, toId: number): string {
  let text = '';
  try {
    text = fs.readFileSync(anchorFile, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const kept: string[] = [];
  let after = false;
  for (const raw of text.split('\n')) {
    if (!raw.trim()) continue;
    let headId: number;
    try {
      headId = Number((JSON.parse(raw) as { headId?: unknown }).headId);
    } catch {
      continue;
    }
    if (headId >= fromId && headId <= toId && toId > 0) kept.push(raw);
    else if (headId > toId && !after) {
      kept.push(raw);
      after = true;
    }
  }
  return kept.map((l) => l + '\n').join('');
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** A fresh staging folder beside where the archive goes (a folder left by a run that died before recording is replaced: nothing refers to it yet). */
function stage(dir: string): string {
  fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
  fs.rmSync(dir, { recursive: true, force: true });
  const staging = `${dir}.partial`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { mode: 0o700 });
  return staging;
}

/** Writes the anchors and the manifest, syncs, renames the folder into place and reads it all back; returns the manifest's SHA-256. */
function finishArchive(
  staging: string,
  dir: string,
  manifest: Omit<AuditArchiveManifest, 'files' | 'createdAt'>,
  rowsFile: { bytes: number; sha256: string },
  anchors: string,
): string {
  writeSynced(path.join(staging, 'anchors.jsonl'), anchors);
  const full: AuditArchiveManifest = {
    ...manifest,
    createdAt: new Date().toISOString(),
    files: { 'rows.jsonl': rowsFile, 'anchors.jsonl': { bytes: Buffer.byteLength(anchors), sha256: sha256(anchors) } },
  };
  const manifestText = JSON.stringify(full, null, 2) + '\n';
  writeSynced(path.join(staging, 'manifest.json'), manifestText);
  fs.renameSync(staging, dir);
  syncDir(path.dirname(dir));
  const manifestSha256 = sha256(manifestText);
  checkManifest(path.join(dir, 'manifest.json'), manifestSha256);
  return manifestSha256;
}

/** Reads an archive back: the manifest's own hash, each file's size and hash, and the rows' count. Throws on any difference. */
export function checkManifest(manifestFile: string, manifestSha256: string): AuditArchiveManifest {
  const text = fs.readFileSync(manifestFile, 'utf8');
  if (sha256(text) !== manifestSha256) throw new Error(`${manifestFile} is not the manifest the chain recorded`);
  const manifest = JSON.parse(text) as AuditArchiveManifest;
  for (const [name, { bytes, sha256: hash }] of Object.entries(manifest.files)) {
    const data = fs.readFileSync(path.join(path.dirname(manifestFile), name));
    if (data.length !== bytes || sha256(data) !== hash) throw new Error(`${name} in ${path.dirname(manifestFile)} differs from its manifest`);
    if (name !== 'rows.jsonl') continue;
    let rows = 0;
    for (let i = data.indexOf(10); i !== -1; i = data.indexOf(10, i + 1)) rows++;
    if (rows !== manifest.rows) throw new Error(`rows.jsonl in ${path.dirname(manifestFile)} holds ${rows} rows, not ${manifest.rows}`);
  }
  return manifest;
}

function writeSynced(file: string, content: string) {
  const fd = fs.openSync(file, 'w', 0o600);
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function syncDir(dir: string) {
  try {
    const fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  } catch {
    // Not every platform can sync a directory; each file's own sync still holds.
  }
}
