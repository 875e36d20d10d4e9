import { afterAll, afterEach, beforeAll, expect, test, vi } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { parseEnv } from '../core/env';
import { verifyPassword } from '../security/passwords';
import { users } from '../db/schema';
import { bootstrapAdmin, formatAdminNotice } from './admin-notice';

/**
 * The first start's sign-in, as an operator sees it: one block with the e-mail and the one-time
 * password, once (run.ts prints it on stdout after the ready line); the JSON log lines on stderr (what
 * log shippers collect) say an admin was made and never carry the password.
 */
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('adminnotice');
});
afterAll(async () => {
  await t?.drop();
});
afterEach(() => {
  vi.restoreAllMocks();
  delete process.env.LOG_LEVEL;
});

function capture() {
  const stdout: string[] = [];
  const stderr: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (stdout.push(String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (stderr.push(String(chunk)), true));
  return { stdout: () => stdout.join(''), stderr: () => stderr.join('') };
}

test('the first start makes one block with the sign-in (printed by the start on stdout), and the logs never hold the password', async () => {
  process.env.LOG_LEVEL = 'debug';
  const env = parseEnv({ PORT: '4123' });
  const first = capture();
  const notice = await bootstrapAdmin(t.db, env);
  // Nothing printed yet: run.ts writes the block after the ready line, so the UI build cannot scroll it away.
  expect(first.stdout()).toBe('');
  const blocks = notice!.match(/\+-+\+\n(\|.*\|\n)+\+-+\+/g) ?? [];
  expect(blocks).toHaveLength(1);
  expect(notice).toContain('E-mail       admin@localhost');
  expect(notice).toContain('Sign in at   http://localhost:4123');
  const password = /Password {5}(\S+)/.exec(notice!)![1]!;
  // The printed password is the one that was stored (and must be changed at first sign-in).
  const [admin] = await t.db.select().from(users);
  expect(admin!.mustChangePassword).toBe(true);
  expect(await verifyPassword(admin!.passwordHash!, password)).toBe(true);

  // stderr holds JSON log lines only, one of them about the admin, none with the password.
  const lines = first.stderr().split('\n').filter(Boolean);
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
  expect(lines.some((l) => JSON.parse(l).email === 'admin@localhost')).toBe(true);
  expect(first.stderr()).not.toContain(password);
  vi.restoreAllMocks();

  // A restart finds the admin: no block, no password, anywhere.
  const again = capture();
  expect(await bootstrapAdmin(t.db, env)).toBeUndefined();
  expect(again.stdout()).toBe('');
  expect(again.stderr()).not.toContain('Password');
});

test('a configured password is never printed: the log line names the admin, there is no block', async () => {
  const other = await createTestDatabase('adminnotice2');
  try {
    const seen = capture();
    expect(await bootstrapAdmin(other.db, parseEnv({ ENCLAVE_ADMIN_EMAIL: 'ops@bank.example', ENCLAVE_ADMIN_PASSWORD: 'configured password 1' }))).toBeUndefined();
    expect(seen.stdout()).toBe('');
    expect(seen.stderr()).toContain('ops@bank.example');
    expect(seen.stderr()).not.toContain('configured password 1');
  } finally {
    vi.restoreAllMocks();
    await other.drop();
  }
});

test('the block names the public URL and keeps its box square', () => {
  const notice = formatAdminNotice({ email: 'ops@bank.example', password: 'Xy7-long-password', url: 'https://llm.bank.example' });
  const rows = notice.split('\n').filter((l) => l.startsWith('|') || l.startsWith('+'));
  expect(new Set(rows.map((r) => r.length)).size).toBe(1);
  expect(notice).toContain('Sign in at   https://llm.bank.example');
});
