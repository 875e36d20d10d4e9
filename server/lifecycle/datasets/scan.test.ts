import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { auditLog, dataClassifications } from '../../db/schema';
import { loadProtectionSettings } from '../../security/classification';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { makeUser } from '../../testing/factories';
import { ingestDataset } from './ingest';
import { createDatasetScanner } from './scan';

let t: TestDatabase;
let dir: string;
const masterKey = randomBytes(32);
beforeAll(async () => {
  t = await createTestDatabase('dsscan');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-ds-scan-'));
});
afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  await t?.drop();
});

const ID = '11010519491231002X';
const rows = (n: number, withPii: (i: number) => boolean) =>
  Array.from({ length: n }, (_, i) =>
    JSON.stringify({ instruction: `讲一个故事 ${i}.`, input: withPii(i) ? `客户身份证 ${ID}，电话 13800138000` : '', output: `从前，故事 ${i} 发生了。` }),
  ).join('\n') + '\n';

test('the scanner counts across chunk edges, even one cutting an ID number or a Chinese character in two', async () => {
  const settings = await loadProtectionSettings(t.db);
  const text = Buffer.from(rows(50, (i) => i % 10 === 0));
  for (const size of [1, 7, 97, 4096]) {
    const scanner = createDatasetScanner(settings);
    for (let at = 0; at < text.length; at += size) scanner.push(text.subarray(at, at + size));
    expect(scanner.finish()).toEqual({ counts: { cn_id: 5, phone: 5 }, level: 3 });
  }
});

test('an uploaded dataset gets its level and finding counts (never values); a clean one gets no row', async () => {
  const owner = await makeUser(t.db, { role: 'engineer' });
  const upload = (text: string) =>
    ingestDataset(t.db, masterKey, dir, Readable.from(Buffer.from(text), { objectMode: false, highWaterMark: 97 }), {
      ownerId: owner.id,
      name: 'customers',
      heldOutFraction: 0.25,
      seed: 7,
      maxBytes: 1 << 30,
    });
  const found = await upload(rows(40, (i) => i % 4 === 0));
  expect(found.ok).toBe(true);
  const id = found.ok ? found.dataset.id : '';
  const [row] = await t.db.select().from(dataClassifications).where(and(eq(dataClassifications.subjectKind, 'dataset'), eq(dataClassifications.subjectId, id)));
  expect(row).toMatchObject({ level: 3, setBy: 'detector', findings: { cn_id: 10, phone: 10 } });
  expect(JSON.stringify(row)).not.toContain(ID);
  const [raised] = await t.db.select().from(auditLog).where(and(eq(auditLog.action, 'classification.raised'), eq(auditLog.target, `dataset:${id}`)));
  expect(raised).toMatchObject({ actorUserId: owner.id, detail: { from: 'internal', to: 'restricted', findings: { cn_id: 10, phone: 10 } } });

  const clean = await upload(rows(40, () => false));
  const cleanId = clean.ok ? clean.dataset.id : '';
  expect(await t.db.select().from(dataClassifications).where(eq(dataClassifications.subjectId, cleanId))).toEqual([]);
});
