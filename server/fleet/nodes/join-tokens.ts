import { hash, randomBytes } from 'node:crypto';
import { and, eq, gt, isNull, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { gpuNodes, joinTokens } from '../../db/schema';
import { registerNode, type NodeRegistration, type NodeRow } from './register';
import { csrPublicKey } from '../../security/certificates/x509';
import { issueNodeCertificate, revokeNodeCertificates, type AgentTls, type IssuedNodeCertificate } from './node-certificates';

/**
 * Remote agents join with a one-time token and from then on authenticate with a node credential. Both are
 * stored only as sha256 hashes in join_tokens; the hash is taken over a kind prefix, so a credential can
 * never be redeemed as a join token or the other way round. A credential row has used_by_node_id set
 * and used_at null (it is never "used up"); it expires far in the future and is revoked by rejoining.
 */
const JOIN_PREFIX = 'ejt-';
const CREDENTIAL_PREFIX = 'enc-node-';
const CREDENTIAL_LIFETIME_MS = 10 * 365 * 86_400_000;

const hashOf = (kind: 'join' | 'node', secret: string) => hash('sha256', `${kind}:${secret}`, 'hex');

export class JoinError extends Error {}

export async function createJoinToken(db: Db, opts: { ttlHours?: number; createdBy?: string | null } = {}): Promise<{ token: string; expiresAt: Date }> {
  const ttlHours = opts.ttlHours ?? 24;
  if (!(Number.isFinite(ttlHours) && ttlHours > 0 && ttlHours <= 24 * 30)) throw new JoinError('The token lifetime must be between 0 and 720 hours');
  const token = JOIN_PREFIX + randomBytes(24).toString('base64url');
  const expiresAt = new Date(Date.now() + ttlHours * 3_600_000);
  await db.insert(joinTokens).values({ tokenHash: hashOf('join', token), createdBy: opts.createdBy ?? null, expiresAt });
  return { token, expiresAt };
}

/**
 * Spends the token (once, atomically: two agents racing with the same token get one node between them),
 * registers the node and issues its credential, revoking any earlier credential of that node.
 */
export async function redeemJoinToken(
  db: Db,
  token: string,
  reg: NodeRegistration,
  mtls?: { tls: AgentTls; csr: string },
): Promise<{ node: NodeRow; credential: string; certificate?: IssuedNodeCertificate }> {
  if (!token.startsWith(JOIN_PREFIX)) throw new JoinError('This is not a join token (run `enclave nodes join-token` on the control plane)');
  // A bad certificate request is refused before the token is spent.
  if (mtls) csrPublicKey(mtls.csr);
  return db.transaction(async (tx) => {
    const [spent] = await tx
      .update(joinTokens)
      .set({ usedAt: new Date() })
      .where(and(eq(joinTokens.tokenHash, hashOf('join', token)), isNull(joinTokens.usedAt), gt(joinTokens.expiresAt, sql`now()`)))
      .returning({ id: joinTokens.id });
    if (!spent) throw new JoinError('The join token is unknown, expired or already used');
    const node = await registerNode(tx as unknown as Db, reg);
    await tx.update(joinTokens).set({ usedByNodeId: node.id }).where(eq(joinTokens.id, spent.id));
    await tx.delete(joinTokens).where(and(eq(joinTokens.usedByNodeId, node.id), isNull(joinTokens.usedAt)));
    const credential = CREDENTIAL_PREFIX + randomBytes(32).toString('base64url');
    await tx.insert(joinTokens).values({ tokenHash: hashOf('node', credential), usedByNodeId: node.id, expiresAt: new Date(Date.now() + CREDENTIAL_LIFETIME_MS) });
    if (!mtls) return { node, credential };
    // A rejoin replaces the node's certificates as it replaces its credential.
    await revokeNodeCertificates(tx, node.id);
    return { node, credential, certificate: await issueNodeCertificate(tx, mtls.tls, node, mtls.csr) };
  });
}

/** The node a credential belongs to, or null for anything else (unknown, revoked, a join token). */
export async function authenticateNode(db: Db, credential: string): Promise<{ id: string; name: string } | null> {
  if (!credential.startsWith(CREDENTIAL_PREFIX)) return null;
  const [row] = await db
    .select({ id: gpuNodes.id, name: gpuNodes.name })
    .from(joinTokens)
    .innerJoin(gpuNodes, eq(gpuNodes.id, joinTokens.usedByNodeId))
    .where(and(eq(joinTokens.tokenHash, hashOf('node', credential)), isNull(joinTokens.usedAt), gt(joinTokens.expiresAt, sql`now()`)))
    .limit(1);
  return row ?? null;
}
