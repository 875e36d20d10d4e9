import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { writeAudit } from '../server/security/audit';
import { encryptText } from '../server/security/encryption';
import { useCliDatabase } from './testing/cli';
import { tamperWithAuditLog } from '../server/testing/audit-tamper';

const cli = useCliDatabase('auditcli');
const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-keys-'));
afterAll(() => fs.rmSync(keyDir, { recursive: true, force: true }));

const anchorFile = () => path.join(cli.dataDir, 'audit-anchors', 'anchors.jsonl');

const superuser = (statement: string, params: unknown[] = []) => tamperWithAuditLog(cli.t.db, statement, params);

test('audit verify checkpoints an intact log, then names rows deleted at its end; a copy from export-anchors is checked too', async () => {
  for (let i = 0; i < 3; i++) await writeAudit(cli.t.db, { action: 'test.cli', outcome: 'success' });
  const first = await cli.run(['audit', 'verify']);
  expect(first.stderr).toBe('');
  expect(first.exitCode).toBe(0);
  expect(first.stdout).toMatch(/^The audit log is intact: 3 row\(s\) chained \(#1 to #3\); 0 checkpoint\(s\) in .*audit-anchors\/anchors.jsonl match\.\nCheckpointed row #4 \(4 rows\)\.$/);
  expect(fs.readFileSync(anchorFile(), 'utf8').trim().split('\n')).toHaveLength(1);

  const copy = path.join(keyDir, 'anchors-copy.jsonl');
  const exported = await cli.run(['audit', 'export-anchors', '--out', copy]);
  expect(exported.exitCode).toBe(0);
  expect(fs.readFileSync(copy, 'utf8')).toBe(fs.readFileSync(anchorFile(), 'utf8'));

  await superuser('DELETE FROM audit_log WHERE id >= 3');
  // The live file cut short as well: only the exported copy still knows of row #4.
  fs.writeFileSync(anchorFile(), '');
  const broken = await cli.run(['audit', 'verify', '--anchors', copy]);
  expect(broken.exitCode).toBe(1);
  expect(broken.stdout).toMatch(/^The audit log is NOT intact \(2 row\(s\) \(#1 to #2\); anchor file .*\):\n- Rows were deleted at the end of the log: the checkpoint of .* saw row #4 with 4 row\(s\) up to it; the newest row now is #2 \(2 in all\)\./);
  const json = JSON.parse((await cli.run(['audit', 'verify', '--json', '--anchors', copy])).stdout);
  expect(json.problems.map((p: { kind: string }) => p.kind)).toEqual(['tail-deleted']);
}, 180_000);

test('audit verify --from/--to checks a range, and prints each break with its row and what was expected and found', async () => {
  await superuser('TRUNCATE audit_log RESTART IDENTITY');
  for (let i = 0; i < 4; i++) await writeAudit(cli.t.db, { action: 'test.range', outcome: 'success', detail: { i } });
  const today = new Date().toISOString().slice(0, 10);
  const range = await cli.run(['audit', 'verify', '--from', today, '--to', today]);
  expect(range.exitCode).toBe(0);
  expect(range.stdout).toMatch(/^The audit log is intact from \S+ to \S+: 4 row\(s\) chained \(#1 to #4\)/);
  expect(await cli.run(['audit', 'verify', '--from', '2020-01-01', '--to', '2019-01-01'])).toMatchObject({ exitCode: 2 });
  const bad = await cli.run(['audit', 'verify', '--from', 'yesterday']);
  expect(bad.stderr).toMatch(/--from must be a date/);
  await superuser(`UPDATE audit_log SET detail = '{"i":9}' WHERE id = 3`);
  const broken = await cli.run(['audit', 'verify', '--from', today]);
  expect(broken.exitCode).toBe(1);
  expect(broken.stdout).toMatch(/- Row #3 does not follow from the rows before it.*\n    at row #3: expected hash [0-9a-f]{64}, found hash [0-9a-f]{64}/);
  // Nothing after today: an empty range holds.
  expect((await cli.run(['audit', 'verify', '--from', '2999-01-01'])).stdout).toMatch(/intact from .*: 0 row\(s\) chained/);
}, 180_000);

test('every admin command loads the master key the same way: a failing command or two sources stop it, naming the variables', async () => {
  const secret = 'vault-token-abc';
  const failing = await cli.run(['users', 'create', '--email', 'x@example.test', '--role', 'user'], {
    ENCLAVE_MASTER_KEY_COMMAND: JSON.stringify([process.execPath, '-e', `console.error('${secret}'); process.exit(2)`]),
  });
  expect(failing.exitCode).toBe(1);
  expect(failing.stderr).toMatch(/^enclave: ENCLAVE_MASTER_KEY_COMMAND failed with exit code 2/);
  expect(failing.stderr + failing.stdout).not.toContain(secret);
  const both = await cli.run(['audit', 'verify'], { ENCLAVE_MASTER_KEY: randomBytes(32).toString('hex'), ENCLAVE_MASTER_KEY_FILE: path.join(keyDir, 'k') });
  expect(both.exitCode).toBe(1);
  expect(both.stderr).toMatch(/Set only one of ENCLAVE_MASTER_KEY, ENCLAVE_MASTER_KEY_FILE/);
}, 120_000);

test('keys rotate-master replaces ENCLAVE_MASTER_KEY_FILE and re-signs the audit checkpoints under the new key', async () => {
  const keyFile = path.join(keyDir, 'master.key');
  const oldKey = randomBytes(32);
  fs.writeFileSync(keyFile, oldKey.toString('hex'), { mode: 0o600 });
  const withFile = { ENCLAVE_MASTER_KEY_FILE: keyFile };
  await encryptText(cli.t.db, oldKey, 'a sealed message');
  await superuser('TRUNCATE audit_log');
  fs.rmSync(path.dirname(anchorFile()), { recursive: true, force: true });
  await writeAudit(cli.t.db, { action: 'test.rotate', outcome: 'success' });
  expect((await cli.run(['audit', 'verify'], withFile)).exitCode).toBe(0);

  const rotated = await cli.run(['keys', 'rotate-master'], withFile);
  expect(rotated.stderr).toBe('');
  expect(rotated.exitCode).toBe(0);
  expect(rotated.stdout).toMatch(/Re-wrapped 1 data key\(s\) under master key [0-9a-f]{16}\.\nRe-signed 1 audit checkpoint\(s\) under it\.\n.*master.key now holds it/);
  const newKey = fs.readFileSync(keyFile, 'utf8').trim();
  expect(newKey).not.toBe(oldKey.toString('hex'));
  expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
  expect(rotated.stdout).not.toContain(newKey);

  const after = await cli.run(['audit', 'verify'], withFile);
  expect(after.stdout).toMatch(/intact: .* 1 checkpoint\(s\) in .* match/);
  expect((await cli.run(['audit', 'verify'], { ENCLAVE_MASTER_KEY: oldKey.toString('hex') })).exitCode).toBe(1);
}, 180_000);

test('keys rotate-master prints the new key before it takes effect when the key came from a command', async () => {
  const current = fs.readFileSync(path.join(keyDir, 'master.key'), 'utf8').trim();
  const command = JSON.stringify([process.execPath, '-e', `process.stdout.write('${current}')`]);
  const rotated = await cli.run(['keys', 'rotate-master'], { ENCLAVE_MASTER_KEY_COMMAND: command });
  expect(rotated.exitCode).toBe(0);
  const [announce, printed, ...rest] = rotated.stdout.trim().split('\n');
  expect(announce).toMatch(/^New master key [0-9a-f]{16} \(in force only once this command reports success\):$/);
  expect(printed).toMatch(/^[0-9a-f]{64}$/);
  expect(rest.at(-1)).toMatch(/^Store the key printed above where ENCLAVE_MASTER_KEY_COMMAND reads it/);
  expect((await cli.run(['audit', 'verify'], { ENCLAVE_MASTER_KEY: printed! })).exitCode).toBe(0);
}, 120_000);
