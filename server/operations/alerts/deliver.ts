import { and, eq, gte, isNotNull, isNull, lt, or, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { alertRules, alerts } from '../../db/schema';
import { log } from '../../core/log';
import { OutboundRefused } from '../../security/outbound/policy';
import { NO_HTTP_ANSWER, outboundRequest } from '../../security/outbound/request';
import { webhookTargets } from './webhooks';

/** A receiver that does not answer within this long counts as failed; the next evaluation retries. */
export const WEBHOOK_TIMEOUT_MS = 5_000;
/** Transitions older than this are not sent any more (a webhook added today should not replay last month). */
const RESEND_HORIZON_MS = 24 * 3_600_000;
/** Alertmanager writes this for an alert that has not ended. */
const NOT_ENDED = '0001-01-01T00:00:00Z';

export interface AlertPayloadItem {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: { summary: string; value: string };
  startsAt: string;
  endsAt: string;
  fingerprint: string;
}

/** The body posted to each webhook: shaped like Alertmanager's webhook payload (version 4) so existing receivers accept it. */
export interface AlertPayload {
  version: '4';
  receiver: string;
  status: 'firing' | 'resolved';
  alerts: AlertPayloadItem[];
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
}

export function payloadFor(receiver: string, items: AlertPayloadItem[]): AlertPayload {
  return {
    version: '4',
    receiver,
    status: items.some((i) => i.status === 'firing') ? 'firing' : 'resolved',
    alerts: items,
    groupLabels: {},
    commonLabels: items.length === 1 ? items[0]!.labels : {},
    commonAnnotations: {},
    externalURL: '',
  };
}

export type PostResult = { ok: true; status: number } | { ok: false; status?: number; error: string };

/**
 * Posts JSON to a webhook under the outbound policy, following no redirect. What comes back names the
 * HTTP status, the policy's refusal, or one message for every failure to get an HTTP answer (closed,
 * filtered, silent or not HTTP alike, so the answer is no port scanner); never the URL, so callers may
 * log or show it.
 */
export async function postJson(url: string, body: unknown): Promise<PostResult> {
  try {
    const res = await outboundRequest(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'enclave-alerts' },
      body: JSON.stringify(body),
      timeoutMs: WEBHOOK_TIMEOUT_MS,
      maxBodyBytes: 0,
    });
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
    const redirect = res.status >= 300 && res.status < 400 ? ' (redirects are not followed)' : '';
    return { ok: false, status: res.status, error: `HTTP ${res.status}${redirect}` };
  } catch (err) {
    return { ok: false, error: err instanceof OutboundRefused ? err.message : NO_HTTP_ANSWER };
  }
}

/**
 * Sends every transition nobody was told about yet: alerts that fired and were not notified, and
 * alerts that resolved after their last notification. One POST per webhook carries them all; only when
 * every webhook accepted it is notified_at set, so a failed delivery is retried on the next evaluation.
 */
export async function deliverNotifications(db: Db, masterKey: Buffer, now: Date): Promise<{ sent: number; failed: number }> {
  const horizon = new Date(now.getTime() - RESEND_HORIZON_MS);
  const due = await db
    .select({ alert: alerts, rule: { name: alertRules.name, kind: alertRules.kind, severity: alertRules.severity } })
    .from(alerts)
    .innerJoin(alertRules, eq(alertRules.id, alerts.ruleId))
    .where(
      or(
        and(eq(alerts.status, 'firing'), isNull(alerts.notifiedAt), gte(alerts.firedAt, horizon)),
        and(
          eq(alerts.status, 'resolved'),
          isNotNull(alerts.firedAt),
          gte(alerts.resolvedAt, horizon),
          or(isNull(alerts.notifiedAt), lt(alerts.notifiedAt, alerts.resolvedAt)),
        ),
      ),
    )
    .orderBy(sql`${alerts.firedAt} asc`)
    .limit(200);
  if (!due.length) return { sent: 0, failed: 0 };
  const targets = await webhookTargets(db, masterKey);
  if (!targets.length) return { sent: 0, failed: 0 };

  const items: AlertPayloadItem[] = due.map(({ alert, rule }) => ({
    status: alert.status === 'resolved' ? 'resolved' : 'firing',
    labels: { alertname: rule.name, kind: rule.kind, severity: rule.severity, subject: alert.subject },
    annotations: { summary: alert.message, value: alert.value === null ? '' : String(alert.value) },
    startsAt: (alert.firedAt ?? alert.pendingSince).toISOString(),
    endsAt: alert.resolvedAt ? alert.resolvedAt.toISOString() : NOT_ENDED,
    fingerprint: alert.id,
  }));
  let failed = 0;
  for (const target of targets) {
    const result = await postJson(target.url, payloadFor(target.name, items));
    if (!result.ok) {
      failed++;
      log.warn('alert webhook delivery failed; retried on the next evaluation', { webhook: target.name, error: result.error });
    }
  }
  if (failed === 0) {
    for (const { alert } of due) await db.update(alerts).set({ notifiedAt: now }).where(eq(alerts.id, alert.id));
  }
  return { sent: failed === 0 ? due.length : 0, failed };
}
