import { expect, test } from 'vitest';
import { joinTokens } from '../server/db/schema';
import { redeemJoinToken } from '../server/fleet/nodes/join-tokens';
import { useCliDatabase } from './testing/cli';

const cli = useCliDatabase('agentcli');
const run = cli.run;

test('nodes join-token prints a one-time token on its last line, stored hashed, that a node can redeem once', async () => {
  const out = await run(['nodes', 'join-token', '--ttl-hours', '2']);
  expect(out.exitCode).toBe(0);
  const token = out.stdout.trim().split('\n').at(-1)!;
  const [row] = await cli.t.db.select().from(joinTokens);
  expect(row!.tokenHash).not.toContain(token);
  expect(row!.expiresAt.getTime() - Date.now()).toBeGreaterThan(7_000_000);
  const joined = await redeemJoinToken(cli.t.db, token, { name: 'cli-node', labels: {}, gpus: [], topology: null });
  expect(joined.node.name).toBe('cli-node');

  const list = await run(['nodes', 'list']);
  expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ name: 'cli-node', status: 'healthy', gpus: 0 })]);

  const bad = await run(['nodes', 'join-token', '--ttl-hours', 'soon']);
  expect(bad.exitCode).toBe(2);
  expect(bad.stderr).toMatch(/--ttl-hours must be/);
});

test('agent refuses to send a join token over plain http to another host', async () => {
  const out = await run(['agent', '--join', 'http://control.example:3000', '--token', 'ejt-x']);
  expect(out.exitCode).toBe(1);
  expect(out.stderr).toMatch(/plain http.*ENCLAVE_ALLOW_INSECURE_JOIN=true/);
  const orphan = await run(['agent', '--token', 'ejt-x']);
  expect(orphan.exitCode).toBe(2);
});
