import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { Db } from '../../db/client';
import { DomainError } from '../../core/errors';
import { NO_HTTP_ANSWER } from '../../security/outbound/request';
import { WEBHOOK_TIMEOUT_MS, payloadFor, postJson, type PostResult } from './deliver';
import { webhookTargets } from './webhooks';

/**
 * Posts a clearly-labelled test alert to one webhook and says whether it was accepted (never echoing the
 * URL). A failure to get an HTTP answer is reported only once the full timeout has passed: a closed port
 * fails at once and a filtered one after the timeout, so answering early would tell them apart.
 */
export async function sendTestWebhook(db: Db, masterKey: Buffer, id: string): Promise<PostResult> {
  const [target] = await webhookTargets(db, masterKey, z.string().uuid().parse(id));
  if (!target) throw new DomainError('NOT_FOUND', 'No webhook with this id (or its URL can no longer be opened)');
  const started = Date.now();
  const now = new Date().toISOString();
  const result = await postJson(
    target.url,
    payloadFor(target.name, [
      {
        status: 'firing',
        labels: { alertname: 'Enclave test alert', kind: 'test', severity: 'warning', subject: 'test' },
        annotations: { summary: 'A test from Enclave: this webhook receives alerts.', value: '' },
        startsAt: now,
        endsAt: now,
        fingerprint: 'test',
      },
    ]),
  );
  if (!result.ok && result.error === NO_HTTP_ANSWER) await sleep(Math.max(0, started + WEBHOOK_TIMEOUT_MS - Date.now()));
  return result;
}
