import { asc, count, eq } from 'drizzle-orm';
import { gpuNodes, gpus } from '../server/db/schema';
import { env } from '../server/core/env';
import { createJoinToken } from '../server/fleet/nodes/join-tokens';
import { revokeNode } from '../server/fleet/nodes/node-certificates';
import { errorMessage, log } from '../server/core/log';
import { prepareInfrastructure } from '../server/services/infrastructure';
import { numberFlag, options, UsageError } from './args';

/**
 * enclave agent [--join URL --token T]   the agent role: local (shares the database), or remote (joins
 *                                       the control plane over HTTPS; env ENCLAVE_JOIN_URL/ENCLAVE_JOIN_TOKEN)
 * enclave nodes join-token [--ttl-hours N]  prints a one-time join token (stored hashed)
 * enclave nodes list                      the fleet's nodes, status, GPUs and last heartbeat
 * enclave nodes revoke NAME               cuts a node off: its client certificates and credential revoked
 */
export async function agentCommand(args: string[]): Promise<'running'> {
  const { values } = options(args, ['join', 'token', 'name']);
  const config = env();
  const joinUrl = values.join ?? config.ENCLAVE_JOIN_URL;
  if (!joinUrl) {
    if (values.token || values.name) throw new UsageError('--token and --name go with --join URL');
    const { runRoles } = await import('../server/roles/run');
    await runRoles(config, { agent: true });
    return 'running';
  }
  const { startRemoteAgent } = await import('../server/fleet/nodes/remote-agent');
  const agent = await startRemoteAgent(config, { joinUrl, token: values.token ?? config.ENCLAVE_JOIN_TOKEN, nodeName: values.name });
  process.stdout.write(`Enclave agent ${agent.nodeName} is running (control plane ${new URL(joinUrl).origin})\n`);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('agent shutting down', { signal });
    agent.stop().then(
      () => process.exit(0),
      (e) => {
        log.error('agent stop failed', { error: errorMessage(e) });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  return 'running';
}

export async function nodesJoinTokenCommand(args: string[]): Promise<void> {
  const { values } = options(args, ['ttl-hours']);
  const ttlHours = numberFlag(values['ttl-hours'], '--ttl-hours', 'a number of hours between 0 and 720', (n) => n > 0 && n <= 720) ?? 24;
  const infra = await prepareInfrastructure(env(), { redis: false });
  try {
    const { token, expiresAt } = await createJoinToken(infra.db, { ttlHours });
    process.stdout.write(
      `One-time join token, valid until ${expiresAt.toISOString()}. It is shown once; on the new host run\n` +
        `  ENCLAVE_ENGINE_HOST=<its private address> enclave agent --join https://<control-plane> --token <token>\n${token}\n`,
    );
  } finally {
    await infra.close();
  }
}

export async function nodesListCommand(args: string[]): Promise<void> {
  options(args, []);
  const infra = await prepareInfrastructure(env(), { redis: false });
  try {
    const rows = await infra.db
      .select({ name: gpuNodes.name, status: gpuNodes.status, lastHeartbeatAt: gpuNodes.lastHeartbeatAt, labels: gpuNodes.labels, gpus: count(gpus.id) })
      .from(gpuNodes)
      .leftJoin(gpus, eq(gpus.nodeId, gpuNodes.id))
      .groupBy(gpuNodes.id)
      .orderBy(asc(gpuNodes.name));
    process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
  } finally {
    await infra.close();
  }
}

export async function nodesRevokeCommand(args: string[]): Promise<void> {
  const { positionals } = options(args, []);
  if (positionals.length !== 1) throw new UsageError('usage: enclave nodes revoke NAME (see `enclave nodes list`)');
  const infra = await prepareInfrastructure(env(), { redis: false });
  try {
    const revoked = await revokeNode(infra.db, positionals[0]!);
    if (!revoked) throw new UsageError(`No node named ${positionals[0]} (see \`enclave nodes list\`)`);
    process.stdout.write(
      `Revoked node ${positionals[0]}: ${revoked.certificates} client certificate(s) and ${revoked.credentials} credential(s). Its agent is refused from its next call; it can come back only with a new join token.\n`,
    );
  } finally {
    await infra.close();
  }
}
