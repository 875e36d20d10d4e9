import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDb } from '../db/client';
import { auditLog } from '../db/schema';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { tamperWithAuditLog } from '../testing/audit-tamper';
import { auditRowHash, GENESIS_HASH, verifyAuditChain, writeAudit } from './audit';
import { checkpointAuditLog, verifyAudit, type AuditAnchors } from './audit-anchor';
import { anchorLine, newestAnchor, readAnchors, stageResignedAnchors } from './audit-anchor-file';

let t: TestDatabase;
let root: string;
let anchors: AuditAnchors;
const masterKey = randomBytes(32);

beforeAll(async () => {
  t = await createTestDatabase('anchor');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-anchors-'));
});
afterAll(async () => {
  await t?.drop();
  fs.rmSync(root, { recursive: true, force: true });
});

/** Each test starts with an empty log and an anchor folder of its own. */
beforeEach(async () => {
  await superuser('TRUNCATE audit_log RESTART IDENTITY');
  anchors = { file: path.join(fs.mkdtempSync(path.join(root, 'a-')), 'anchors.jsonl'), masterKey };
});

const superuser = (statement: string, params: unknown[] = []) => tamperWithAuditLog(t.db, statement, params);

async function writeRows(n: number, action = 'test.row') {
  for (let i = 0; i < n; i++) await writeAudit(t.db, { action, target: `t${i}`, outcome: 'success', detail: { i } });
}

async function ids() {
  return (await t.db.select({ id: auditLog.id }).from(auditLog).orderBy(auditLog.id)).map((r) => r.id);
}

async function checkpointed() {
  const result = await checkpointAuditLog(t.db, anchors, { wait: true });
  expect(result).toHaveProperty('written');
  return result;
}

describe('audit checkpoints', () => {
  it('notice rows deleted at the end of the log, which the chain alone cannot', async () => {
    await writeRows(5);
    await checkpointed();
    await writeRows(2);
    await checkpointed();
    const before = await verifyAudit(t.db, anchors);
    expect(before).toMatchObject({ ok: true, problems: [], rows: 8, anchorsTotal: 2, anchorsMatched: 2 });

    const all = await ids();
    await superuser('DELETE FROM audit_log WHERE id >= $1', [all.at(-2)]);
    // The finding: a chain without its tail still links up.
    expect((await verifyAuditChain(t.db)).ok).toBe(true);

    const after = await verifyAudit(t.db, anchors);
    expect(after.ok).toBe(false);
    expect(after.problems).toEqual([
      expect.objectContaining({ kind: 'tail-deleted', rowId: all.at(-1), expectedRows: 8, foundRows: 6, newestId: all.at(-3), anchors: 1 }),
    ]);
    expect(after.problems[0]!.message).toMatch(new RegExp(`^Rows were deleted at the end of the log: the checkpoint of .* saw row #${all.at(-1)} with 8 row\\(s\\) up to it; the newest row now is #${all.at(-3)} \\(6 in all\\)\\.$`));
    expect(after.checkpointWritten).toBeUndefined();
    // Nor will the schedule bless the loss with a new checkpoint.
    await writeRows(1);
    expect(await checkpointAuditLog(t.db, anchors)).toEqual({ refused: expect.stringMatching(/no longer matches the checkpoint of .* \(row #\d+\)/) });
  });

  it('notice a truncated table', async () => {
    await writeRows(3);
    await checkpointed();
    await superuser('TRUNCATE audit_log');
    const result = await verifyAudit(t.db, anchors);
    expect(result).toMatchObject({ ok: false, rows: 0 });
    expect(result.problems).toEqual([expect.objectContaining({ kind: 'truncated', expectedRows: 4, foundRows: 0 })]);
    expect(result.problems[0]!.message).toMatch(/^The audit log was emptied \(truncated\)/);
  });

  it('notice an edited row, and a chain recomputed after the edit to hide it', async () => {
    await writeRows(4);
    await checkpointed();
    const all = await ids();
    await superuser(`UPDATE audit_log SET target = 'someone-else' WHERE id = $1`, [all[2]]);
    const edited = await verifyAudit(t.db, anchors);
    expect(edited.problems.map((p) => p.kind)).toEqual(['chain-broken']);
    expect(edited).toMatchObject({ ok: false, brokenAtId: all[2], checked: 2 });

    // Recompute every hash from the edit on, as someone who knows the scheme would.
    let prev = GENESIS_HASH;
    for (const { id, prevHash: _p, hash: _h, ...fields } of await t.db.select().from(auditLog).orderBy(auditLog.id)) {
      const hash = auditRowHash(prev, fields);
      await superuser('UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE id = $3', [prev, hash, id]);
      prev = hash;
    }
    expect((await verifyAuditChain(t.db)).ok).toBe(true);
    const rewritten = await verifyAudit(t.db, anchors);
    expect(rewritten.ok).toBe(false);
    expect(rewritten.problems).toEqual([expect.objectContaining({ kind: 'row-rewritten', rowId: all.at(-1) })]);
    expect(rewritten.problems[0]!.message).toMatch(/^Rows were rewritten: row #\d+ no longer has the hash the checkpoint of/);
  });

  it('notice a row deleted in the middle, even with the chain recomputed around it', async () => {
    await writeRows(5);
    await checkpointed();
    const all = await ids();
    await superuser('DELETE FROM audit_log WHERE id = $1', [all[1]]);
    const result = await verifyAudit(t.db, anchors);
    expect(result.problems).toEqual([
      expect.objectContaining({ kind: 'chain-broken', rowId: all[2] }),
      expect.objectContaining({ kind: 'rows-deleted', rowId: all.at(-1), expectedRows: 6, foundRows: 5 }),
    ]);
  });

  it('report a checkpoint line that was edited, or signed under another key, and never trust it', async () => {
    await writeRows(3);
    await checkpointed();
    await writeRows(3);
    await checkpointed();
    const lines = fs.readFileSync(anchors.file, 'utf8').trim().split('\n');
    // Lower the count the newest line vouches for, as if rows had never been written, then drop those rows.
    const forged = JSON.parse(lines[1]!);
    forged.count = 4;
    const foreign = anchorLine(randomBytes(32), { headId: 1, headHash: 'a'.repeat(64), count: 1, at: new Date().toISOString() });
    fs.writeFileSync(anchors.file, [lines[0], JSON.stringify(forged), foreign, 'not json'].join('\n') + '\n');
    const result = await verifyAudit(t.db, anchors);
    expect(result.ok).toBe(false);
    expect(result.anchorsTotal).toBe(1);
    expect(result.problems).toEqual([
      expect.objectContaining({ kind: 'anchor-tampered', line: 2, anchors: 2 }),
      expect.objectContaining({ kind: 'anchor-other-key', line: 3, anchors: 1 }),
    ]);
    expect(result.problems[0]!.message).toMatch(/2 checkpoint line\(s\) in .*anchors.jsonl fail their MAC \(first: line 2\): the anchor file was edited/);
  });

  it('notice a deleted anchor file, and do not start a new one in its place', async () => {
    await writeRows(2);
    await checkpointed();
    fs.rmSync(anchors.file);
    const result = await verifyAudit(t.db, anchors);
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([expect.objectContaining({ kind: 'anchors-missing', rowId: 3 })]);
    expect(result.problems[0]!.message).toMatch(/^Row #3 records that checkpoints have been kept in .*anchors.jsonl since .*, but that file is gone/);
    expect(await checkpointAuditLog(t.db, anchors)).toEqual({ refused: expect.stringMatching(/anchors.jsonl is gone, though row #3 records its start/) });
    expect(fs.existsSync(anchors.file)).toBe(false);
  });

  it('check an exported copy too, which catches a live anchor file cut short', async () => {
    await writeRows(2);
    await checkpointed();
    await writeRows(2);
    await checkpointed();
    const copy = path.join(path.dirname(anchors.file), 'exported.jsonl');
    fs.copyFileSync(anchors.file, copy);
    const lines = fs.readFileSync(anchors.file, 'utf8').trim().split('\n');
    fs.writeFileSync(anchors.file, lines[0] + '\n');
    const all = await ids();
    await superuser('DELETE FROM audit_log WHERE id > $1', [all[2]]);
    expect((await verifyAudit(t.db, anchors)).ok).toBe(true);
    const withCopy = await verifyAudit(t.db, anchors, { copies: [copy] });
    expect(withCopy.problems).toEqual([expect.objectContaining({ kind: 'tail-deleted', expectedRows: 5, foundRows: 3 })]);
    await expect(verifyAudit(t.db, anchors, { copies: [copy + '.missing'] })).rejects.toThrow(/No such anchor file: .*exported.jsonl.missing/);
  });

  it('checkpoint after a verification that found nothing, and only when the head moved', async () => {
    await writeRows(2);
    const first = await verifyAudit(t.db, anchors);
    expect(first).toMatchObject({ ok: true, anchorsTotal: 0, checkpointWritten: { headId: 3, count: 3 } });
    expect(await checkpointAuditLog(t.db, anchors)).toEqual({ skipped: 'unchanged' });
    const second = await verifyAudit(t.db, anchors);
    expect(second).toMatchObject({ ok: true, anchorsTotal: 1, anchorsMatched: 1 });
    expect(second.checkpointWritten).toBeUndefined();
    const line = JSON.parse(fs.readFileSync(anchors.file, 'utf8'));
    expect(Object.keys(line).sort()).toEqual(['at', 'count', 'headHash', 'headId', 'kid', 'mac', 'v']);
    expect(fs.statSync(anchors.file).mode & 0o777).toBe(0o600);
  });

  it('keep one ordered file while several processes checkpoint and write at once', async () => {
    const pools = Array.from({ length: 3 }, () => createDb(t.url, 3));
    try {
      await Promise.all(
        pools.flatMap((db, p) => [
          (async () => {
            for (let i = 0; i < 6; i++) await writeAudit(db, { action: 'test.concurrent', target: `p${p}-${i}`, outcome: 'success' });
          })(),
          (async () => {
            for (let i = 0; i < 6; i++) await checkpointAuditLog(db, anchors, { wait: i % 2 === 0 });
          })(),
        ]),
      );
    } finally {
      await Promise.all(pools.map((db) => db.$client.end()));
    }
    await checkpointAuditLog(t.db, anchors, { wait: true });
    const read = readAnchors(anchors.file, masterKey);
    expect(read.problems).toEqual([]);
    const heads = read.checkpoints.map((c) => c.headId);
    expect(heads).toEqual([...heads].sort((a, b) => a - b));
    expect(new Set(heads).size).toBe(heads.length);
    expect((await t.db.select().from(auditLog)).filter((r) => r.action === 'audit.anchors_started')).toHaveLength(1);
    expect(await verifyAudit(t.db, anchors)).toMatchObject({ ok: true, rows: 19, anchorsMatched: read.checkpoints.length });
  });

  it('re-sign lines under a new master key, never a forged one', async () => {
    await writeRows(2);
    await checkpointed();
    await writeRows(1);
    await checkpointed();
    const lines = fs.readFileSync(anchors.file, 'utf8').trim().split('\n');
    const forged = lines[1]!.replace(/"count":\d+/, '"count":1');
    fs.writeFileSync(anchors.file, [lines[0], forged].join('\n') + '\n');
    const newKey = randomBytes(32);
    const staged = stageResignedAnchors(anchors.file, masterKey, newKey)!;
    expect(staged).toMatchObject({ resigned: 1, keptAsIs: 1 });
    fs.renameSync(staged.staged, anchors.file);
    const result = await verifyAudit(t.db, { ...anchors, masterKey: newKey });
    expect(result).toMatchObject({ anchorsTotal: 1, anchorsMatched: 1 });
    // Kept byte for byte: it still cannot pass for a checkpoint under the new key.
    expect(result.problems).toEqual([expect.objectContaining({ kind: 'anchor-other-key', line: 2 })]);
    expect(fs.readFileSync(anchors.file, 'utf8').split('\n')[1]).toBe(forged);
  });

  it('find the newest checkpoint from the end of a long file, past a run of bad lines too', async () => {
    const at = new Date().toISOString();
    const valid = Array.from({ length: 600 }, (_, i) => anchorLine(masterKey, { headId: i + 1, headHash: 'b'.repeat(64), count: i + 1, at }));
    fs.writeFileSync(anchors.file, valid.join('\n') + '\n');
    expect(fs.statSync(anchors.file).size).toBeGreaterThan(64 * 1024);
    expect(newestAnchor(anchors.file, masterKey)).toMatchObject({ headId: 600, count: 600 });
    const forged = valid.slice(0, 400).map((l) => l.replace(/"count":\d+/, '"count":9999'));
    fs.appendFileSync(anchors.file, forged.join('\n') + '\n');
    expect(newestAnchor(anchors.file, masterKey)).toMatchObject({ headId: 600, count: 600 });
    expect(newestAnchor(anchors.file, randomBytes(32))).toBeUndefined();
  });
});
