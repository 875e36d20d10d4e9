import { asc, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../../db/client';
import { alertWebhooks } from '../../db/schema';
import { decryptText, encryptText } from '../../security/encryption';
import { DomainError } from '../../core/errors';
import { outboundUrl } from '../../security/outbound/url';

// The field is `secretUrl`, not `url`: the audit middleware keeps every input field whose name does not
// look secret, and a webhook URL usually carries a token.
export const webhookInput = z.object({
  name: z.string().trim().min(1).max(120),
  // Sealed, so a token in the query or Basic credentials in the URL are fine; the outbound policy still applies.
  secretUrl: outboundUrl({ credentials: true, query: true }),
  enabled: z.boolean().default(true),
});
export const webhookUpdate = z.object({ id: z.string().uuid(), name: webhookInput.shape.name.optional(), enabled: z.boolean().optional() });

/**
 * Webhook URLs often carry a token (Slack, PagerDuty), so the URL is sealed like message content and,
 * once saved, only its host is ever shown. Replacing a URL means deleting the webhook and adding it again.
 */
export interface WebhookView {
  id: string;
  name: string;
  host: string;
  enabled: boolean;
  createdAt: Date;
}

async function openUrl(db: Db, masterKey: Buffer, row: typeof alertWebhooks.$inferSelect): Promise<string | null> {
  try {
    return await decryptText(db, masterKey, row.urlEnc, row.dataKeyId);
  } catch {
    return null; // sealed under a key we no longer hold: shown as unreadable, skipped when sending
  }
}

async function toView(db: Db, masterKey: Buffer, row: typeof alertWebhooks.$inferSelect): Promise<WebhookView> {
  const url = await openUrl(db, masterKey, row);
  return { id: row.id, name: row.name, host: url ? new URL(url).host : '?', enabled: row.enabled, createdAt: row.createdAt };
}

export async function listWebhooks(db: Db, masterKey: Buffer): Promise<WebhookView[]> {
  const rows = await db.select().from(alertWebhooks).orderBy(asc(alertWebhooks.createdAt));
  return Promise.all(rows.map((r) => toView(db, masterKey, r)));
}

export async function createWebhook(db: Db, masterKey: Buffer, raw: z.input<typeof webhookInput>): Promise<WebhookView> {
  const input = webhookInput.parse(raw);
  const { ciphertext, dataKeyId } = await encryptText(db, masterKey, input.secretUrl);
  const [row] = await db.insert(alertWebhooks).values({ name: input.name, urlEnc: ciphertext, dataKeyId, enabled: input.enabled }).returning();
  return toView(db, masterKey, row!);
}

export async function updateWebhook(db: Db, masterKey: Buffer, raw: z.input<typeof webhookUpdate>): Promise<WebhookView> {
  const { id, ...patch } = webhookUpdate.parse(raw);
  const [row] = await db.update(alertWebhooks).set(patch).where(eq(alertWebhooks.id, id)).returning();
  if (!row) throw new DomainError('NOT_FOUND', 'No webhook with this id');
  return toView(db, masterKey, row);
}

export async function deleteWebhook(db: Db, id: string) {
  const deleted = await db.delete(alertWebhooks).where(eq(alertWebhooks.id, z.string().uuid().parse(id))).returning({ id: alertWebhooks.id });
  if (!deleted.length) throw new DomainError('NOT_FOUND', 'No webhook with this id');
  return { id };
}

/** Enabled webhooks with their opened URLs, for the sender only (never returned by the API). */
export async function webhookTargets(db: Db, masterKey: Buffer, id?: string): Promise<{ id: string; name: string; url: string }[]> {
  const rows = await db.select().from(alertWebhooks).where(id ? eq(alertWebhooks.id, id) : eq(alertWebhooks.enabled, true));
  const targets = [];
  for (const r of rows) {
    const url = await openUrl(db, masterKey, r);
    if (url) targets.push({ id: r.id, name: r.name, url });
  }
  return targets;
}
