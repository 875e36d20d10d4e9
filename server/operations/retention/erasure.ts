import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { conversations, dataKeys, datasets, messages, users } from '../../db/schema';
import { writeAudit } from '../../security/audit';
import { announceCredentialChange } from '../../security/credential-events';
import { decryptText, forgetDestroyedDataKeys } from '../../security/encryption';
import { DomainError } from '../../core/errors';
import type { Env } from '../../core/env';
import { isUuid } from '../../core/ids';
import { errorMessage } from '../../core/log';
import { backendForDataDir } from '../../artifacts';
import { holdsOnPerson } from './holds';
import { hasClassifications } from './levels';
import { removeKeysFromBackups, type BackupKeyRemoval } from './backups';

export type ErasureMode = 'delete' | 'erase';

/**
 * What an erasure (or a deletion) did, and the proofs that the person's keys are gone. Returned to the
 * admin, shown in the UI, and kept as the detail of a `users.<mode>.report` audit row (counts and key
 * ids only: no content, no email).
 */
export interface ErasureReport {
  mode: ErasureMode;
  userId: string;
  email: string;
  at: string;
  deleted: Record<string, number>;
  /** Rows other people own that named them as creator; kept, with the creator cleared. */
  detached: Record<string, number>;
  /** Kept on purpose: audit rows (a legal obligation; no content) and the daily usage counts (no content). */
  kept: { auditRows: number; usageDailyRows: number };
  keys: {
    destroyed: number[];
    /** data_keys rows left with those ids (0). */
    remaining: number;
    /** Rows anywhere that still name one of those keys (0). */
    referencingRows: number;
    /** Their content found under install-wide keys (stored before per-person keys and not yet re-sealed): deleted here, but copies in earlier backups are not shredded. */
    contentUnderSharedKeys: number;
    /** A ciphertext of theirs captured before the erasure, opened again after it. */
    sampleDecryption: { dataKeyId: number; bytes: number; failed: boolean; error: string } | null;
    /** The captured sample's text searched in the audit rows about them (never stored): found 0 times. */
    sampleTextInAuditRows: number | null;
  };
  files: { deleted: number; remaining: number; errors: string[] };
  /** erase only: the destroyed keys taken out of every backup's keyring. */
  backups: BackupKeyRemoval | null;
}

async function count(db: Db, query: ReturnType<typeof sql>): Promise<number> {
  const r = await db.execute<{ n: number }>(query);
  return Number(r.rows[0]?.n ?? 0);
}

async function deleted(db: Db, query: ReturnType<typeof sql>): Promise<number> {
  const r = await db.execute(query);
  return r.rowCount ?? 0;
}

/**
 * Deletes a person (`delete`) or erases them (`erase`, GDPR Art. 17 / PIPL): their conversations and
 * messages, reply leases, datasets (rows, then files after the commit), API keys and what hangs on them
 * (quotas, request logs), sessions, group memberships, password history, feedback, arena rounds, jobs and
 * load tests, classification rows, their account, and their data keys: what was sealed under them, in
 * any copy, can no longer be opened (crypto-shredding). `erase` also takes the keys out of every backup's
 * keyring. Refused while a legal hold covers them or any of their conversations, while a job or load test
 * of theirs is active, for the caller's own account, and for the last enabled admin.
 *
 * Runs in one transaction (the caller's, when it has one): every row is deleted or none, and one
 * `users.<mode>.report` audit row records what was done, with the proofs.
 */
export async function erasePerson(
  db: Db,
  masterKey: Buffer,
  input: {
    userId: string;
    mode: ErasureMode;
    dataDir: string;
    /** The person's email typed again by whoever asks (the UI's and the command's confirmation). */
    confirmation: string;
    /** Where the backups are (ENCLAVE_BACKUP_DIR): the process's configuration unless given. */
    env?: Env;
    actor: { userId: string | null; label: string; clientAddress?: string | null };
  },
): Promise<ErasureReport> {
  const { userId, mode } = input;
  if (!isUuid(userId)) throw new DomainError('NOT_FOUND', 'No such user');
  if (userId === input.actor.userId) throw new DomainError('BAD_REQUEST', 'id: you cannot delete or erase your own account');
  const report = await db.transaction(async (tx0) => {
    const tx = tx0 as unknown as Db;
    const [person] = await tx.select().from(users).where(eq(users.id, userId)).for('update');
    if (!person) throw new DomainError('NOT_FOUND', 'No such user');
    if (input.confirmation.trim().toLowerCase() !== person.email)
      throw new DomainError('BAD_REQUEST', "confirmationText: type the user's email exactly to confirm");

    const holds = await holdsOnPerson(tx, userId);
    if (holds.length) {
      const h = holds[0]!;
      throw new DomainError('CONFLICT', `${person.email} cannot be ${mode === 'erase' ? 'erased' : 'deleted'}: ${h.subjectKind === 'user' ? 'they are' : 'a conversation of theirs is'} under legal hold (${h.reason}); lift the hold first`);
    }
    if (person.role === 'admin' && !person.disabled) {
      const others = await count(tx, sql`SELECT count(*)::int AS n FROM users WHERE role = 'admin' AND NOT disabled AND id <> ${userId}`);
      if (!others) throw new DomainError('CONFLICT', 'This is the last enabled admin: make another admin first');
    }
    const activeJobs = await count(tx, sql`SELECT count(*)::int AS n FROM jobs WHERE (owner_id = ${userId} OR dataset_id IN (SELECT id FROM datasets WHERE owner_id = ${userId})) AND status IN ('queued', 'waiting', 'running')`);
    if (activeJobs) throw new DomainError('CONFLICT', `${activeJobs} job(s) of theirs or on their datasets are queued or running: cancel them first`);
    const activeLoadTests = await count(tx, sql`SELECT count(*)::int AS n FROM load_tests WHERE owner_id = ${userId} AND status IN ('queued', 'running')`);
    if (activeLoadTests) throw new DomainError('CONFLICT', `${activeLoadTests} load test(s) of theirs are queued or running: cancel them first`);

    // What the proofs need, captured before anything goes: their keys, one ciphertext, its text (in memory only).
    const keyIds = (await tx.select({ id: dataKeys.id }).from(dataKeys).where(eq(dataKeys.ownerUserId, userId))).map((k) => k.id);
    const [sample] = await tx
      .select({ contentEnc: messages.contentEnc, dataKeyId: messages.dataKeyId })
      .from(messages)
      .innerJoin(conversations, eq(conversations.id, messages.conversationId))
      .innerJoin(dataKeys, eq(dataKeys.id, messages.dataKeyId))
      .where(and(eq(conversations.userId, userId), eq(dataKeys.ownerUserId, userId)))
      .orderBy(sql`length(${messages.contentEnc}) DESC`)
      .limit(1);
    const sampleText = sample ? await decryptText(tx, masterKey, sample.contentEnc, sample.dataKeyId).catch(() => null) : null;
    const files = (await tx.select({ storagePath: datasets.storagePath }).from(datasets).where(eq(datasets.ownerId, userId))).map((d) => d.storagePath);
    const notOwnKey = (keyColumn: ReturnType<typeof sql>) => sql`NOT EXISTS (SELECT 1 FROM data_keys k WHERE k.id = ${keyColumn} AND k.owner_user_id = ${userId})`;
    const contentUnderSharedKeys =
      (await count(tx, sql`SELECT count(*)::int AS n FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.user_id = ${userId} AND ${notOwnKey(sql`m.data_key_id`)}`)) +
      (await count(tx, sql`SELECT count(*)::int AS n FROM conversations c WHERE c.user_id = ${userId} AND ${notOwnKey(sql`('x' || encode(substring(c.title_enc from 1 for 4), 'hex'))::bit(32)::int`)}`)) +
      (await count(tx, sql`SELECT count(*)::int AS n FROM datasets d WHERE d.owner_id = ${userId} AND ${notOwnKey(sql`d.data_key_id`)}`));

    const theirConversations = sql`SELECT id FROM conversations WHERE user_id = ${userId}`;
    const theirKeys = sql`SELECT id FROM api_keys WHERE user_id = ${userId}`;
    const theirDatasets = sql`SELECT id FROM datasets WHERE owner_id = ${userId}`;
    const d: Record<string, number> = {};
    // Leases of their streamed replies, found by the replies or by the audit row each keeps (it names them).
    d.replyStreams = await deleted(
      tx,
      sql`DELETE FROM reply_streams r WHERE r.audit->>'actorUserId' = ${userId}::text OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id IN (${theirConversations}) AND m.id = ANY(r.message_ids))`,
    );
    d.classifications = (await hasClassifications(tx))
      ? await deleted(
          tx,
          sql`DELETE FROM data_classifications WHERE (subject_kind = 'conversation' AND subject_id IN (${theirConversations})) OR (subject_kind = 'dataset' AND subject_id IN (${theirDatasets})) OR (subject_kind = 'api_key' AND subject_id IN (${theirKeys})) OR (subject_kind = 'knowledge_base' AND subject_id IN (SELECT id FROM knowledge_bases WHERE owner_id = ${userId}))`,
        )
      : 0;
    d.feedback = await deleted(tx, sql`DELETE FROM message_feedback WHERE user_id = ${userId} OR message_id IN (SELECT id FROM messages WHERE conversation_id IN (${theirConversations}))`);
    d.arenaRounds = await deleted(tx, sql`DELETE FROM battles WHERE user_id = ${userId}`);
    d.messages = await deleted(tx, sql`DELETE FROM messages WHERE conversation_id IN (${theirConversations})`);
    d.conversations = await deleted(tx, sql`DELETE FROM conversations WHERE user_id = ${userId}`);
    d.quotas = await deleted(tx, sql`DELETE FROM quotas WHERE (subject_kind = 'user' AND subject_id = ${userId}) OR (subject_kind = 'key' AND subject_id IN (${theirKeys}))`);
    // Request logs hold no prompt or reply text, but do hold their client addresses: personal data.
    d.requestLogs = await deleted(tx, sql`DELETE FROM request_logs WHERE user_id = ${userId} OR api_key_id IN (${theirKeys})`);
    d.apiKeys = await deleted(tx, sql`DELETE FROM api_keys WHERE user_id = ${userId}`);
    d.sessions = await deleted(tx, sql`DELETE FROM sessions WHERE user_id = ${userId}`);
    d.groupMemberships = await deleted(tx, sql`DELETE FROM group_members WHERE user_id = ${userId}`);
    d.passwordHistory = await deleted(tx, sql`DELETE FROM password_history WHERE user_id = ${userId}`);
    const detached: Record<string, number> = {};
    // Other people's finished jobs trained on their datasets keep their record, without the dataset.
    detached.jobsOnTheirDatasets = await deleted(tx, sql`UPDATE jobs SET dataset_id = NULL WHERE dataset_id IN (${theirDatasets}) AND owner_id <> ${userId}`);
    d.jobs = await deleted(tx, sql`DELETE FROM jobs WHERE owner_id = ${userId}`);
    d.datasets = await deleted(tx, sql`DELETE FROM datasets WHERE owner_id = ${userId}`);
    d.loadTests = await deleted(tx, sql`DELETE FROM load_tests WHERE owner_id = ${userId}`);
    // Knowledge bases with their documents, passages, vectors and index terms (cascade); others' chats lose the attachment.
    d.knowledgeBases = await deleted(tx, sql`DELETE FROM knowledge_bases WHERE owner_id = ${userId}`);
    detached.experiments = await deleted(tx, sql`UPDATE experiments SET created_by = NULL WHERE created_by = ${userId}`);
    detached.alertRules = await deleted(tx, sql`UPDATE alert_rules SET created_by = NULL WHERE created_by = ${userId}`);
    detached.joinTokens = await deleted(tx, sql`UPDATE join_tokens SET created_by = NULL WHERE created_by = ${userId}`);
    // A deployment's history names who changed it ("scaled by <email>"): the history stays, the email goes.
    detached.deploymentEvents = await deleted(tx, sql`UPDATE deployment_events SET message = replace(message, ${person.email}, '[erased user]') WHERE strpos(message, ${person.email}) > 0`);
    d.dataKeys = await deleted(tx, sql`DELETE FROM data_keys WHERE owner_user_id = ${userId}`);
    d.account = await deleted(tx, sql`DELETE FROM users WHERE id = ${userId}`);

    // The proofs, in the same transaction: no key row left, nothing naming one, and the sample no longer opens.
    await forgetDestroyedDataKeys(keyIds);
    const remaining = keyIds.length ? (await tx.select({ id: dataKeys.id }).from(dataKeys).where(inArray(dataKeys.id, keyIds))).length : 0;
    const ids = sql.join(keyIds.length ? keyIds.map((k) => sql`${k}`) : [sql`NULL`], sql`, `);
    const referencingRows = await count(
      tx,
      sql`SELECT ((SELECT count(*) FROM messages WHERE data_key_id IN (${ids})) + (SELECT count(*) FROM datasets WHERE data_key_id IN (${ids}))
        + (SELECT count(*) FROM conversations WHERE ('x' || encode(substring(title_enc from 1 for 4), 'hex'))::bit(32)::int IN (${ids}))
        + (SELECT count(*) FROM load_tests WHERE (spec->'workload'->>'promptsDataKeyId')::int IN (${ids}))
        + (SELECT count(*) FROM alert_webhooks WHERE data_key_id IN (${ids})))::int AS n`,
    );
    let sampleDecryption: ErasureReport['keys']['sampleDecryption'] = null;
    if (sample) {
      const error = await decryptText(tx, masterKey, sample.contentEnc, sample.dataKeyId).then(
        () => null,
        (e: unknown) => errorMessage(e),
      );
      sampleDecryption = { dataKeyId: sample.dataKeyId, bytes: sample.contentEnc.length, failed: error !== null, error: error ?? 'it still opened' };
    }
    // Too short a text would match by chance; the search covers the audit rows about them, never stores the text.
    const sampleTextInAuditRows =
      sampleText && sampleText.length >= 12
        ? await count(tx, sql`SELECT count(*)::int AS n FROM audit_log WHERE (actor_user_id = ${userId} OR target = ${userId}) AND strpos(detail::text, ${JSON.stringify(sampleText).slice(1, -1)}) > 0`)
        : null;
    const kept = {
      auditRows: await count(tx, sql`SELECT count(*)::int AS n FROM audit_log WHERE actor_user_id = ${userId} OR target = ${userId}`),
      usageDailyRows: await count(tx, sql`SELECT count(*)::int AS n FROM usage_daily WHERE user_id = ${userId}`),
    };
    if (remaining || referencingRows || (sampleDecryption && !sampleDecryption.failed))
      throw new Error(`erasure of ${userId} left ${remaining} key(s) and ${referencingRows} referencing row(s): rolled back`);

    const result: ErasureReport = {
      mode,
      userId,
      email: person.email,
      at: new Date().toISOString(),
      deleted: d,
      detached,
      kept,
      keys: { destroyed: keyIds, remaining, referencingRows, contentUnderSharedKeys, sampleDecryption, sampleTextInAuditRows },
      files: { deleted: 0, remaining: files.length, errors: [] },
      backups: null,
    };
    // Outside the database, last, once every check and proof above passed: the files, then (erase) the
    // keys in the backups. Not deferred to the commit: a commit that failed after this would leave the
    // person half-erased, and running the erasure again finishes it (both steps are idempotent); deferred,
    // a crash between the commit and them would leave files and backups holding the person with no
    // record to say so. The one report row below records the outcome of all of it.
    // The dataset files are in the artifact store (the data directory, a shared one, or S3).
    const artifacts = backendForDataDir(input.dataDir);
    for (const file of files) await artifacts.delete(file).catch((e: unknown) => result.files.errors.push(errorMessage(e)));
    const still = await Promise.all(files.map((f) => artifacts.head(f).then((o) => o !== null, () => true)));
    result.files.remaining = still.filter(Boolean).length;
    result.files.deleted = files.length - result.files.remaining;
    if (mode === 'erase') result.backups = await removeKeysFromBackups(keyIds, { env: input.env, masterKey }).catch((e: unknown) => ({ skipped: `failed: ${errorMessage(e)}` }));
    await writeAudit(tx, {
      actorUserId: input.actor.userId,
      actorLabel: input.actor.label,
      action: `users.${mode}.report`,
      target: userId,
      clientAddress: input.actor.clientAddress ?? null,
      outcome: result.files.remaining === 0 && !(result.backups && 'skipped' in result.backups && result.backups.skipped.startsWith('failed')) ? 'success' : 'failure',
      detail: auditDetail(result),
    });
    // Gateways drop the person's cached keys and sessions once the commit lands.
    await announceCredentialChange({ userId });
    return result;
  });
  return report;
}

/** The report as an audit row holds it: counts, key ids and outcomes, never the email or any text. */
function auditDetail(r: ErasureReport): Record<string, unknown> {
  const { email: _email, userId: _id, ...rest } = r;
  return rest as unknown as Record<string, unknown>;
}

/** The stored reports (newest first), for the Users page: from the audit rows, so they outlive the account. */
export async function erasureReports(db: Db, limit = 50) {
  const r = await db.execute<{ id: string; at: Date; action: string; target: string; actor_label: string | null; outcome: string; detail: Record<string, unknown> }>(
    sql`SELECT id, at, action, target, actor_label, outcome, detail FROM audit_log WHERE action IN ('users.erase.report', 'users.delete.report') ORDER BY id DESC LIMIT ${limit}`,
  );
  return r.rows;
}
