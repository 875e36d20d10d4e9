import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { expect, test } from 'vitest';
import { dataKeys, users } from '../server/db/schema';
import { Conversations } from '../server/chat/conversations';
import { Messages } from '../server/chat/messages';
import { makeUser } from '../server/testing/factories';
import { testRedisPrefix } from '../server/testing/database';
import { useCliDatabase } from './testing/cli';

const cli = useCliDatabase('usererase');
const masterKey = randomBytes(32);
const env = { ENCLAVE_MASTER_KEY: masterKey.toString('hex'), REDIS_PREFIX: testRedisPrefix('usererase') };

test('users erase EMAIL: confirmed by --yes (a terminal asks for the email again), prints the report, refuses a held person', async () => {
  const person = await makeUser(cli.t.db);
  const conv = await new Conversations(cli.t.db, masterKey, person.id).create({ title: 'mine' });
  await new Messages(cli.t.db, masterKey, person.id).add({ conversationId: conv.id, parentId: null, role: 'user', content: 'something of mine to erase' });

  // No terminal to type the confirmation into, and no --yes: a usage error, nothing done.
  const unconfirmed = await cli.run(['users', 'erase', person.email], env);
  expect([unconfirmed.exitCode, unconfirmed.stderr]).toEqual([2, expect.stringContaining('not a terminal: pass --yes to confirm')]);
  expect((await cli.run(['users', 'erase', 'nobody@example.test', '--yes'], env)).stderr).toBe('enclave: No user with the email nobody@example.test');

  await cli.t.db.execute(`INSERT INTO legal_holds (subject_kind, subject_id, reason) VALUES ('user', '${person.id}', 'Case 12')` as never);
  const held = await cli.run(['users', 'erase', person.email, '--yes'], env);
  expect([held.exitCode, held.stderr]).toEqual([1, expect.stringContaining('under legal hold (Case 12)')]);
  await cli.t.db.execute(`UPDATE legal_holds SET lifted_at = now() WHERE subject_id = '${person.id}'` as never);

  const human = await cli.run(['users', 'erase', person.email.toUpperCase(), '--yes'], env);
  expect(human.stderr).toBe('');
  expect(human.exitCode).toBe(0);
  expect(human.stdout).toMatch(new RegExp(`^Erased ${person.email} \\(${person.id}\\) at .*\\.\\nDeleted: .*messages 1, conversations 1, .*dataKeys 1, account 1\\.`));
  expect(human.stdout).toMatch(/A ciphertext of theirs captured before \(\d+ bytes, key \d+\) no longer opens: data key \d+ does not exist\./);
  expect(human.stdout).toMatch(/Backups: keys removed from 0 backup\(s\)|Backups: not reached/);
  expect(await cli.t.db.select().from(users).where(eq(users.id, person.id))).toEqual([]);
  expect(await cli.t.db.select().from(dataKeys).where(eq(dataKeys.ownerUserId, person.id))).toEqual([]);

  const other = await makeUser(cli.t.db);
  const json = await cli.run(['users', 'delete', other.email, '--yes', '--json'], env);
  expect(json.exitCode).toBe(0);
  expect(JSON.parse(json.stdout)).toMatchObject({ mode: 'delete', userId: other.id, deleted: { account: 1 }, keys: { remaining: 0 }, backups: null });
}, 120_000);
