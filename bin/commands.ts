import { randomBytes } from 'node:crypto';
import { asc, eq } from 'drizzle-orm';
import { users } from '../server/db/schema';
import { env } from '../server/env';
import type { RoleSet } from '../server/roles/run';
import { createApiKey } from '../server/security/api-keys';
import { createUser } from '../server/security/users';
import { rotateMasterKeyCommand } from './rotate-master';
import { prepareInfrastructure } from '../server/services/infrastructure';
import { options, required, UsageError } from './args';
import { gpusCommand, gpusParseCommand } from './gpus';
import { planCommand } from './plan';
import { agentCommand, nodesJoinTokenCommand, nodesListCommand } from './agent-commands';
import { quantizeCommand } from './quantize';
import { evalPerplexityCommand } from './eval';
import { loadtestCommand } from './loadtest';

type Command = (args: string[]) => Promise<number | 'running' | void>;

const role =
  (roles: RoleSet): Command =>
  async (args) => {
    options(args, {});
    // Loaded on demand: admin commands should not pay for Next.js and the engines.
    const { runRoles } = await import('../server/roles/run');
    await runRoles(env(), roles);
    return 'running';
  };

/** Runs an admin task against the same database as `start` (the embedded one when it is in use). */
async function withInfrastructure<T>(fn: (infra: Awaited<ReturnType<typeof prepareInfrastructure>>) => Promise<T>): Promise<T> {
  const infra = await prepareInfrastructure(env(), { redis: false });
  try {
    return await fn(infra);
  } finally {
    await infra.close();
  }
}

export const commands: Record<string, Command> = {
  start: role({ web: true, gateway: true, worker: true, agent: true }),
  web: role({ web: true }),
  gateway: role({ gateway: true }),
  worker: role({ worker: true }),
  agent: agentCommand,

  'users create': async (args) => {
    const { values } = options(args, { email: { type: 'string' }, role: { type: 'string' }, password: { type: 'string' }, name: { type: 'string' } });
    const password = values.password ?? randomBytes(15).toString('base64url');
    const user = await withInfrastructure(({ db }) =>
      createUser(db, { email: required(values.email, '--email'), role: values.role ?? 'user', password, name: values.name }),
    );
    process.stdout.write(`Created ${user.role} ${user.email}\n`);
    if (!values.password) process.stdout.write(`One-time password (shown once): ${password}\n`);
  },

  'keys create': async (args) => {
    const { values } = options(args, { name: { type: 'string' }, user: { type: 'string' }, models: { type: 'string' }, 'expires-days': { type: 'string' } });
    const name = required(values.name, '--name');
    const days = values['expires-days'] === undefined ? undefined : Number(values['expires-days']);
    if (days !== undefined && !(Number.isFinite(days) && days > 0)) throw new UsageError('--expires-days must be a positive number');
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
  quantize: quantizeCommand,
  'eval perplexity': evalPerplexityCommand,
  loadtest: loadtestCommand,

  'keys rotate-master': async (args) => {
    options(args, {});
    await withInfrastructure((infra) => rotateMasterKeyCommand(env(), infra.db, infra.masterKey));
  },
};
