import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog } from '../db/schema';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { auditDetailFromInput, GENESIS_HASH, verifyAuditChain, writeAudit } from './audit';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('audit');
});
afterAll(async () => {
  await t?.drop();
});

describe('audit log', () => {
  it('chains rows written concurrently, and detects an edited row', async () => {
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        writeAudit(t.db, { action: 'test.write', target: `t${i}`, outcome: i % 3 ? 'success' : 'failure', clientAddress: '127.0.0.1', detail: { i, z: 1, a: { y: 2, b: 3 } } }),
      ),
    );
    const rows = await t.db.select().from(auditLog).orderBy(auditLog.id);
    expect(rows).toHaveLength(12);
    expect(rows[0]!.prevHash).toBe(GENESIS_HASH);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.prevHash).toBe(rows[i - 1]!.hash);
    expect(await verifyAuditChain(t.db)).toMatchObject({ ok: true, checked: 12, rows: 12, problems: [] });

    // The table refuses edits; someone with enough power can switch that off, and the chain still tells.
    await expect(t.db.$client.query(`UPDATE audit_log SET outcome = 'success' WHERE id = $1`, [rows[3]!.id])).rejects.toThrow(/append-only/);
    await t.db.$client.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update');
    await t.db.$client.query(`UPDATE audit_log SET target = 'someone-else' WHERE id = $1`, [rows[5]!.id]);
    await t.db.$client.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update');
    expect(await verifyAuditChain(t.db)).toMatchObject({ ok: false, checked: 5, brokenAtId: rows[5]!.id, problems: [{ kind: 'chain-broken', rowId: rows[5]!.id }] });
  });

  it('detects a deleted row', async () => {
    const before = await t.db.select().from(auditLog).orderBy(auditLog.id);
    await t.db.$client.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update');
    // Repair the edit from the previous test by removing everything, then build a clean chain.
    await t.db.$client.query('DELETE FROM audit_log');
    await t.db.$client.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update');
    expect(before.length).toBeGreaterThan(0);
    for (let i = 0; i < 4; i++) await writeAudit(t.db, { action: 'test.delete', outcome: 'success' });
    const rows = await t.db.select().from(auditLog).orderBy(auditLog.id);
    expect((await verifyAuditChain(t.db)).ok).toBe(true);
    await t.db.$client.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update');
    await t.db.$client.query('DELETE FROM audit_log WHERE id = $1', [rows[1]!.id]);
    await t.db.$client.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update');
    expect(await verifyAuditChain(t.db)).toMatchObject({ ok: false, checked: 1, brokenAtId: rows[2]!.id });
  });

  it('keeps secrets and content out of the detail', () => {
    expect(
      auditDetailFromInput({ id: 'abc', password: 'hunter22', content: 'hello', title: 'private', key: 'sk-enc-x', role: 'admin', disabled: true, models: ['a'] }),
    ).toEqual({ id: 'abc', role: 'admin', disabled: true, models: ['a'] });
  });
});
