import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { queueDefinitions } from '../server/core/queues';
import { writeAudit } from '../server/security/audit';
import { readAnchors } from '../server/security/audit-anchor-file';
import { createTestDatabase, type TestDatabase } from '../server/testing/database';
import { runMaintenance } from './maintenance';

let t: TestDatabase;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-maint-anchors-'));
const masterKey = randomBytes(32);
const anchors = { file: path.join(dir, 'anchors.jsonl'), masterKey };
beforeAll(async () => {
  t = await createTestDatabase('maintanchor');
});
afterAll(async () => {
  await t?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the audit-checkpoint task checkpoints the head when it moved, and needs the master key', async () => {
  const payload = queueDefinitions.maintenance.payload.parse({ task: 'audit-checkpoint' });
  await writeAudit(t.db, { action: 'test.maintenance', outcome: 'success' });
  expect(await runMaintenance(t.db, payload, { masterKey, anchors })).toEqual({ checkpoint: { written: expect.objectContaining({ headId: 2, count: 2 }) } });
  expect(await runMaintenance(t.db, payload, { masterKey, anchors })).toEqual({ checkpoint: { skipped: 'unchanged' } });
  await writeAudit(t.db, { action: 'test.maintenance', outcome: 'success' });
  expect(await runMaintenance(t.db, payload, { masterKey, anchors })).toEqual({ checkpoint: { written: expect.objectContaining({ headId: 3, count: 3 }) } });
  expect(readAnchors(anchors.file, masterKey)).toMatchObject({ lines: 2, problems: [] });
  await expect(runMaintenance(t.db, payload, {})).rejects.toThrow(/need the master key/);
});
