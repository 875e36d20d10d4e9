import os from 'node:os';
import readline from 'node:readline/promises';
import { eq } from 'drizzle-orm';
import { users } from '../server/db/schema';
import { env } from '../server/core/env';
import { closeRedis } from '../server/core/redis';
import { erasePerson, type ErasureMode, type ErasureReport } from '../server/operations/retention/erasure';
import { normalizeEmail } from '../server/security/users';
import { options, UsageError } from './args';
import { withInfrastructure } from './infrastructure';

/**
 * `enclave users erase EMAIL` (GDPR Art. 17 / PIPL: everything of theirs, their keys, and their keys in
 * every backup) and `enclave users delete EMAIL` (the account and everything of theirs, backups left to
 * age out). Asks for the email again in a terminal; `--yes` is that confirmation for a script. Prints the
 * verification report (`--json`: as JSON); exit 1 when a file or a backup could not be reached.
 */
export const usersEraseCommand = (mode: ErasureMode) => async (args: string[]) => {
  const { values, positionals } = options(args, [], ['yes', 'json']);
  const email = positionals[0];
  if (!email || positionals.length > 1) throw new UsageError(`users ${mode} takes one email`);
  const confirmation = values.yes ? email : await ask(`This ${mode === 'erase' ? 'erases' : 'deletes'} ${email} and everything of theirs, for good. Type the email again to confirm: `);
  const report = await withInfrastructure(async ({ db, masterKey }) => {
    const [person] = await db.select({ id: users.id }).from(users).where(eq(users.email, normalizeEmail(email)));
    if (!person) throw new Error(`No user with the email ${email}`);
    return erasePerson(db, masterKey, {
      userId: person.id,
      mode,
      dataDir: env().dataDir,
      env: env(),
      confirmation,
      actor: { userId: null, label: `command line (${os.userInfo().username})` },
    });
  }).finally(() => closeRedis().catch(() => undefined));
  process.stdout.write(values.json ? JSON.stringify(report) + '\n' : describe(report));
  return report.files.remaining === 0 && !(report.backups && 'skipped' in report.backups && report.backups.skipped.startsWith('failed')) ? 0 : 1;
};

async function ask(question: string): Promise<string> {
  if (!process.stdin.isTTY) throw new UsageError('not a terminal: pass --yes to confirm');
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

function describe(r: ErasureReport): string {
  const counts = (o: Record<string, number>) => Object.entries(o).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`).join(', ') || 'nothing';
  const lines = [
    `${r.mode === 'erase' ? 'Erased' : 'Deleted'} ${r.email} (${r.userId}) at ${r.at}.`,
    `Deleted: ${counts(r.deleted)}.`,
    `Kept: ${r.kept.auditRows} audit row(s) (no content), ${r.kept.usageDailyRows} daily usage row(s) (counts only); detached: ${counts(r.detached)}.`,
    `Data keys destroyed: ${r.keys.destroyed.join(', ') || 'none'}; left: ${r.keys.remaining}; rows still naming them: ${r.keys.referencingRows}.`,
    r.keys.sampleDecryption
      ? `A ciphertext of theirs captured before (${r.keys.sampleDecryption.bytes} bytes, key ${r.keys.sampleDecryption.dataKeyId}) ${r.keys.sampleDecryption.failed ? `no longer opens: ${r.keys.sampleDecryption.error}` : 'STILL OPENS'}.`
      : 'They had no message to test against.',
    r.keys.contentUnderSharedKeys ? `${r.keys.contentUnderSharedKeys} item(s) were still under install keys (stored before per-person keys): deleted, but copies in older backups are not shredded.` : '',
    `Dataset files: ${r.files.deleted} deleted, ${r.files.remaining} left${r.files.errors.length ? ` (${r.files.errors.join('; ')})` : ''}.`,
    r.backups ? ('skipped' in r.backups ? `Backups: not reached (${r.backups.skipped}).` : `Backups: keys removed from ${r.backups.backups} backup(s) (${r.backups.keysRemoved} key copies).`) : '',
  ];
  return lines.filter(Boolean).join('\n') + '\n';
}
