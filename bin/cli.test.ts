import fs from 'node:fs';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { execa } from 'execa';
import { expect, test } from 'vitest';
import { apiKeys, users } from '../server/db/schema';
import { hashApiKey } from '../server/security/api-keys';
import { useCliDatabase } from './testing/cli';

const cli = useCliDatabase('cli');
const run = cli.run;

test('help and unknown commands', async () => {
  const help = await run(['help']);
  expect(help.exitCode).toBe(0);
  expect(help.stdout).toMatch(/keys rotate-master/);
  const bad = await run(['frobnicate']);
  expect(bad.exitCode).toBe(2);
  expect(bad.stderr).toMatch(/unknown command: frobnicate/);
});

test('`npx enclave` runs the package bin, as `npm start` does', async () => {
  const root = path.resolve(__dirname, '..');
  const viaNpx = await execa('npx', ['enclave', 'help'], { cwd: root, reject: false });
  expect(viaNpx.exitCode).toBe(0);
  expect(viaNpx.stdout).toMatch(/^Usage: enclave <command>/);
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  expect(pkg.bin.enclave).toBe('bin/enclave.mjs');
  expect(pkg.scripts.start).toBe('node bin/enclave.mjs start');
});

test('a bad configuration value stops the command and names the variable', async () => {
  const r = await run(['users', 'create', '--email', 'x@example.test'], { PORT: 'eighty' });
  expect(r.exitCode).toBe(1);
  expect(r.stderr).toMatch(/PORT/);
});

test('users create, then keys create prints the key alone on its last line, stored only hashed', async () => {
  const created = await run(['users', 'create', '--email', 'Eng@Example.test', '--role', 'engineer', '--password', 'correct horse battery']);
  expect(created.stderr).toBe('');
  expect(created.exitCode).toBe(0);
  const [user] = await cli.t.db.select().from(users).where(eq(users.email, 'eng@example.test'));
  expect(user!.role).toBe('engineer');
  expect(user!.passwordHash).toMatch(/^\$argon2id\$/);
  // Whoever ran the command chose it: its owner must change it at first sign-in.
  expect(user!.mustChangePassword).toBe(true);

  const duplicate = await run(['users', 'create', '--email', 'eng@example.test', '--role', 'user', '--password', 'another password']);
  expect(duplicate.exitCode).toBe(1);
  expect(duplicate.stderr).toMatch(/already exists/);

  const key = await run(['keys', 'create', '--name', 'ci', '--user', 'eng@example.test', '--models', 'stories260K,other']);
  expect(key.exitCode).toBe(0);
  const lastLine = key.stdout.trim().split('\n').at(-1)!;
  expect(lastLine).toMatch(/^sk-enc-[A-Za-z0-9_-]{43}$/);
  const [row] = await cli.t.db.select().from(apiKeys).where(eq(apiKeys.keyHash, hashApiKey(lastLine)));
  expect(row!.userId).toBe(user!.id);
  expect(row!.models).toEqual(['stories260K', 'other']);
  expect(JSON.stringify(row)).not.toContain(lastLine);

  const missing = await run(['keys', 'create']);
  expect(missing.exitCode).toBe(2);
  expect(missing.stderr).toMatch(/--name is required/);
});
