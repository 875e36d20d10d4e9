import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { expect, test } from 'vitest';
import { gpuNodes, nodeCertificates } from '../server/db/schema';
import { createJoinToken, redeemJoinToken } from '../server/fleet/nodes/join-tokens';
import { loadCertificateAuthority } from '../server/security/certificates/ca';
import { createCsr, generateRsaKey } from '../server/security/certificates/x509';
import { useCliDatabase } from './testing/cli';

const cli = useCliDatabase('nodesrevoke');

test("nodes revoke NAME revokes the node's client certificates and credential, and says so; an unknown name is a usage error", async () => {
  const ca = await loadCertificateAuthority(cli.t.db, randomBytes(32), {});
  const { token } = await createJoinToken(cli.t.db);
  const csr = createCsr(generateRsaKey().privateKeyPem, 'cli-node');
  const joined = await redeemJoinToken(cli.t.db, token, { name: 'cli-node', labels: {}, gpus: [], topology: null }, { tls: { ca, port: 3002, certLifetimeMs: 86_400_000 }, csr });
  expect(joined.certificate?.serial).toMatch(/^[0-9A-F]{32}$/);

  const out = await cli.run(['nodes', 'revoke', 'cli-node']);
  expect(out.exitCode).toBe(0);
  expect(out.stdout).toMatch(/Revoked node cli-node: 1 client certificate\(s\) and 1 credential\(s\)/);
  const [row] = await cli.t.db.select().from(nodeCertificates).where(eq(nodeCertificates.serial, joined.certificate!.serial));
  expect(row!.revokedAt).toBeInstanceOf(Date);
  expect((await cli.t.db.select().from(gpuNodes).where(eq(gpuNodes.name, 'cli-node')))[0]!.status).toBe('unhealthy');

  const unknown = await cli.run(['nodes', 'revoke', 'nope']);
  expect(unknown.exitCode).toBe(2);
  expect(unknown.stderr).toMatch(/No node named nope/);
  expect((await cli.run(['nodes', 'revoke'])).exitCode).toBe(2);
});
