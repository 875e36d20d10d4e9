import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import pg from 'pg';
import type { Env } from '../../core/env';
import { createDb } from '../../db/client';
import { conversations, dataKeys, messages } from '../../db/schema';
import { verifyAuditChain } from '../../security/audit';
import { decryptText } from '../../security/encryption';
import { backupKey } from './backup-key';
import { peekManifest, readManifest } from './manifest';
import { fetchBackup, peekBackup, type BackupRef } from './place';
import { restoreBackup, SHREDDED_FINGERPRINT, type TableCheck } from './restore';

export interface DrillReport {
  backupId: string;
  ok: boolean;
  schema: { backup: string; code: string };
  tables: TableCheck[];
  files: { count: number; bytes: number; match: boolean };
  conversations: { total: number; decrypted: number; shredded: number; failed: number; messages: number };
  audit: { ok: boolean; rows: number; brokenAtId?: number; problems: string[] };
  /** Why the drill stopped, when the restore itself was refused. */
  error?: string;
  seconds: number;
}

export interface DrillOptions {
  /** The backup's folder, or `backup`: one wherever it is kept (one in the artifact store is fetched into a scratch folder first). */
  backupDir?: string;
  backup?: BackupRef;
  /** A URL of a role that may CREATE DATABASE on the server (the owner's, or the app's). */
  serverUrl: string;
  env: Pick<Env, 'ENCLAVE_BACKUP_KEY_FILE'>;
  masterKey: Buffer;
  onProgress?: (phase: string, fraction: number) => void;
}

/**
 * A restore drill: the backup restored into a scratch database and a scratch folder, then checked as an
 * auditor would check a real restore: every table's row count and content hash against the manifest,
 * every file's hash, every conversation's title and messages decrypted with the master key (content
 * sealed under a key an erasure removed counts as shredded, not failed), and the audit chain verified.
 * The scratch database and folder are removed whatever happens. Nothing of the content is reported.
 */
export async function runDrill(opts: DrillOptions): Promise<DrillReport> {
  const started = Date.now();
  const progress = opts.onProgress ?? (() => {});
  const name = `enclave_drill_${randomBytes(5).toString('hex')}`;
  const scratchDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-drill-'));
  const serverUrl = new URL(opts.serverUrl);
  const adminUrl = new URL(serverUrl);
  adminUrl.pathname = '/postgres';
  const admin = async (text: string) => {
    const c = new pg.Client({ connectionString: adminUrl.toString() });
    await c.connect();
    try {
      await c.query(text);
    } finally {
      await c.end();
    }
  };
  const scratchUrl = new URL(serverUrl);
  scratchUrl.pathname = `/${name}`;
  if (!opts.backupDir && !opts.backup) throw new Error('runDrill needs backupDir or backup');
  const manifest = opts.backupDir ? peekManifest(opts.backupDir) : await peekBackup(opts.backup!);
  const fetchDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-drill-backup-'));
  const empty: DrillReport = {
    backupId: manifest.id,
    ok: false,
    schema: { backup: manifest.schema.tag, code: '' },
    tables: [],
    files: { count: 0, bytes: 0, match: false },
    conversations: { total: 0, decrypted: 0, shredded: 0, failed: 0, messages: 0 },
    audit: { ok: false, rows: 0, problems: [] },
    seconds: 0,
  };
  try {
    progress('fetching the backup', 0);
    const backupDir = opts.backupDir ?? (await fetchBackup(opts.backup!, fetchDir));
    readManifest(backupDir, backupKey(opts.env, opts.masterKey));
    await admin(`CREATE DATABASE "${name}"`).catch((e: Error) => {
      throw new Error(`The drill could not create its scratch database (${e.message}): its role needs CREATEDB`);
    });
    const scratch = createDb(scratchUrl.toString(), 4);
    try {
      const restored = await restoreBackup({
        backupDir,
        db: scratch,
        dataDir: scratchDir,
        env: opts.env,
        masterKey: opts.masterKey,
        migrateForward: false,
        onProgress: (phase, f) => progress(phase, f * 0.8),
      }).catch((e: Error) => {
        throw Object.assign(e, { drillStage: 'restore' });
      });
      progress('decrypting conversations', 0.8);
      const conv = await decryptAll(scratch, opts.masterKey);
      progress('verifying the audit chain', 0.92);
      const chain = await verifyAuditChain(scratch);
      const files = { ...restored.files, match: true };
      const report: DrillReport = {
        backupId: manifest.id,
        ok: restored.tables.every((t) => t.match) && conv.failed === 0 && chain.ok,
        schema: restored.schema,
        tables: restored.tables,
        files,
        conversations: conv,
        audit: { ok: chain.ok, rows: chain.rows, ...(chain.brokenAtId ? { brokenAtId: chain.brokenAtId } : {}), problems: chain.problems.map((p) => p.message) },
        seconds: (Date.now() - started) / 1000,
      };
      return report;
    } finally {
      await scratch.$client.end().catch(() => {});
    }
  } catch (e) {
    return { ...empty, error: (e as Error).message, seconds: (Date.now() - started) / 1000 };
  } finally {
    progress('removing the scratch database', 0.98);
    await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => {});
    fs.rmSync(scratchDir, { recursive: true, force: true });
    fs.rmSync(fetchDir, { recursive: true, force: true });
  }
}

async function decryptAll(db: ReturnType<typeof createDb>, masterKey: Buffer) {
  const shreddedIds = new Set((await db.select({ id: dataKeys.id }).from(dataKeys).where(eq(dataKeys.masterFingerprint, SHREDDED_FINGERPRINT))).map((r) => r.id));
  const out = { total: 0, decrypted: 0, shredded: 0, failed: 0, messages: 0 };
  for (const c of await db.select({ id: conversations.id, titleEnc: conversations.titleEnc }).from(conversations)) {
    out.total++;
    // Title: key id (4 bytes) ‖ sealed text (server/chat/conversations.ts).
    const sealed = [{ keyId: c.titleEnc.readUInt32BE(0), enc: c.titleEnc.subarray(4) }];
    for (const m of await db.select({ keyId: messages.dataKeyId, enc: messages.contentEnc }).from(messages).where(eq(messages.conversationId, c.id))) sealed.push(m);
    out.messages += sealed.length - 1;
    if (sealed.some((s) => shreddedIds.has(s.keyId))) {
      out.shredded++;
      continue;
    }
    try {
      for (const s of sealed) await decryptText(db, masterKey, s.enc, s.keyId);
      out.decrypted++;
    } catch {
      out.failed++;
    }
  }
  return out;
}
