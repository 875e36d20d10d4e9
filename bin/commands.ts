import { asc, eq } from 'drizzle-orm';
import { users } from '../server/db/schema';
import { env } from '../server/core/env';
import type { RoleSet } from '../server/roles/run';
import { createApiKey } from '../server/security/api-keys';
import { generateOneTimePassword } from '../server/security/password-change';
import { createUser } from '../server/security/users';
import { rotateMasterKeyCommand } from './rotate-master';
import { auditExportAnchorsCommand, auditVerifyCommand } from './audit-commands';
import { withInfrastructure } from './infrastructure';
import { numberFlag, options, required } from './args';
import { gpusCommand, gpusParseCommand } from './gpus';
import { planCommand } from './plan';
import { agentCommand, nodesJoinTokenCommand, nodesListCommand, nodesRevokeCommand } from './agent-commands';
import { quantizeCommand } from './quantize';
import { evalPerplexityCommand } from './eval';
import { loadtestCommand } from './loadtest';
import { usersEraseCommand } from './user-erase';
import { backupCommand, backupDrillCommand, backupListCommand, restoreCommand } from './backup-commands';
import { artifactsCopyFromDataDirCommand } from './artifacts-commands';
import { doctorCommand } from './doctor';

type Command = (args: string[]) => Promise<number | 'running' | void>;

const role =
  (roles: RoleSet): Command =>
  async (args) => {
    options(args, []);
    // Loaded on demand: admin commands should not pay for Next.js and the engines.
    const { runRoles } = await import('../server/roles/run');
    await runRoles(env(), roles);
    return 'running';
  };

export const commands: Record<string, Command> = {
  start: role({ web: true, gateway: true, worker: true, agent: true }),
  web: role({ web: true }),
  gateway: role({ gateway: true }),
  worker: role({ worker: true }),
  agent: agentCommand,
  doctor: doctorCommand,

  'users create': async (args) => {
    const { values } = options(args, ['email', 'role', 'password', 'name']);
    const password = values.password ?? generateOneTimePassword();
    // Whoever runs the command chose the password, not its owner: it is changed at first sign-in.
    const user = await withInfrastructure(({ db }) =>
      createUser(db, { email: required(values.email, '--email'), role: values.role ?? 'user', password, name: values.name, oneTime: true }),
    );
    process.stdout.write(`Created ${user.role} ${user.email}\n`);
    if (!values.password) process.stdout.write(`One-time password (shown once; to be changed at first sign-in): ${password}\n`);
  },

  'artifacts copy-from-data-dir': artifactsCopyFromDataDirCommand,
  'users erase': usersEraseCommand('erase'),
  'users delete': usersEraseCommand('delete'),

  'keys create': async (args) => {
    const { values } = options(args, ['name', 'user', 'models', 'expires-days', 'max-concurrent']);
    const name = required(values.name, '--name');
    const days = numberFlag(values['expires-days'], '--expires-days', 'a positive number', (n) => Number.isFinite(n) && n > 0);
    // A service that sends many requests at once (a batch job) gets its own cap; 0: none.
    const maxConcurrent = numberFlag(values['max-concurrent'], '--max-concurrent', 'a whole number from 0 (no cap) to 100000', (n) => Number.isInteger(n) && n >= 0 && n <= 100_000);
    const models = values.models?.split(',').map((m) => m.trim()).filter(Boolean);
    const created = await withInfrastructure(async ({ db }) => {
      const [owner] = values.user
        ? await db.select().from(users).where(eq(users.email, values.user.trim().toLowerCase())).limit(1)
        : await db.select().from(users).where(eq(users.role, 'admin')).orderBy(asc(users.createdAt)).limit(1);
      if (!owner) throw new Error(values.user ? `No user with the email ${values.user}` : 'No admin exists yet: run `enclave start` once first');
      const key = await createApiKey(db, {
        userId: owner.id,
        name,
        models: models?.length ? models : null,
        expiresAt: days ? new Date(Date.now() + days * 86_400_000) : null,
        maxConcurrent,
      });
      return { ...key, owner: owner.email };
    });
    process.stdout.write(`Created key "${name}" (${created.prefix}…) for ${created.owner}. It is shown once; store it now:\n${created.key}\n`);
  },

  gpus: gpusCommand,
  'gpus parse': gpusParseCommand,
  plan: planCommand,
  'nodes join-token': nodesJoinTokenCommand,
  'nodes list': nodesListCommand,
  'nodes revoke': nodesRevokeCommand,
  quantize: quantizeCommand,
  'eval perplexity': evalPerplexityCommand,
  loadtest: loadtestCommand,

  'keys rotate-master': async (args) => {
    options(args, []);
    await withInfrastructure((infra) => rotateMasterKeyCommand(env(), infra.db, infra.masterKey, infra.masterKeySource));
  },
  'audit verify': auditVerifyCommand,
  'audit export-anchors': auditExportAnchorsCommand,
  backup: backupCommand,
  'backup list': backupListCommand,
  'backup drill': backupDrillCommand,
  restore: restoreCommand,
};
