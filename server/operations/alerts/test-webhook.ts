import { z } from 'zod';
import type { Db } from '../../db/client';
import { DomainError } from '../../security/errors';
import { payloadFor, postJson, type PostResult } from './deliver';
import { webhookTargets } from './webhooks';

/** Posts a clearly-labelled test alert to one webhook and says whether it was accepted (never echoing the URL). */
export async function sendTestWebhook(db: Db, masterKey: Buffer, id: string, fetchImpl?: typeof fetch): Promise<PostResult> {
  const [target] = await webhookTargets(db, masterKey, z.string().uuid().parse(id));
  if (!target) throw new DomainError('NOT_FOUND', 'No webhook with this id (or its URL can no longer be opened)');
  const now = new Date().toISOString();
  return postJson(
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
    fetchImpl,
  );
}
