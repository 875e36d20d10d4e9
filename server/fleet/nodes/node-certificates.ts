import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import type { DbOrTx } from '../../db/types';
import { gpuNodes, joinTokens, nodeCertificates } from '../../db/schema';
import { DomainError } from '../../core/errors';
import type { CertificateAuthority } from '../../security/certificates/ca';

/**
 * Agents' client certificates: issued by the CA at the join (for the key of the agent's certificate
 * request, never a key made here), renewed by the agent before they run out, revoked with the node.
 * The certificate names the node by id (CN) and name (OU); its serial is recorded, and the agents' API
 * accepts it only while that row is this node's, unrevoked and from the CA in use.
 */
export interface AgentTls {
  ca: CertificateAuthority;
  /** The port of the mTLS agent listener (ENCLAVE_AGENT_PORT), told to agents at the join. */
  port: number;
  certLifetimeMs: number;
}

export interface IssuedNodeCertificate {
  certificate: string;
  caCertificate: string;
  serial: string;
  notAfter: string;
}

/** Signs the request's key for this node and records the serial. The request was checked by the caller first (ca.issue throws CsrError). */
export async function issueNodeCertificate(db: DbOrTx, tls: AgentTls, node: { id: string; name: string }, csrPem: string): Promise<IssuedNodeCertificate> {
  const issued = tls.ca.issue({ csrPem, commonName: node.id, organizationalUnit: node.name, lifetimeMs: tls.certLifetimeMs });
  await db.insert(nodeCertificates).values({ serial: issued.serial, nodeId: node.id, caFingerprint: tls.ca.fingerprint, notBefore: issued.notBefore, notAfter: issued.notAfter });
  return { certificate: issued.certPem, caCertificate: tls.ca.certPem, serial: issued.serial, notAfter: issued.notAfter.toISOString() };
}

/** Revokes every certificate of the node still valid; returns how many. */
export async function revokeNodeCertificates(db: DbOrTx, nodeId: string): Promise<number> {
  const rows = await db
    .update(nodeCertificates)
    .set({ revokedAt: new Date() })
    .where(and(eq(nodeCertificates.nodeId, nodeId), isNull(nodeCertificates.revokedAt)))
    .returning({ serial: nodeCertificates.serial });
  return rows.length;
}

/**
 * Cuts a node off: its client certificates revoked and its node credential deleted, in one transaction.
 * Its next call to the agents' API is refused; it can come back only with a new join token.
 */
export async function revokeNode(db: Db, name: string): Promise<{ certificates: number; credentials: number } | null> {
  return db.transaction(async (tx) => {
    const [node] = await tx.select({ id: gpuNodes.id }).from(gpuNodes).where(eq(gpuNodes.name, name));
    if (!node) return null;
    const certificates = await revokeNodeCertificates(tx, node.id);
    const credentials = await tx
      .delete(joinTokens)
      .where(and(eq(joinTokens.usedByNodeId, node.id), isNull(joinTokens.usedAt)))
      .returning({ id: joinTokens.id });
    await tx.update(gpuNodes).set({ status: 'unhealthy' }).where(eq(gpuNodes.id, node.id));
    return { certificates, credentials: credentials.length };
  });
}

/**
 * Checks that the request came over the agent listener with a client certificate of this node (the
 * credential's): the handshake already refused a missing certificate, another CA's or an expired one;
 * here the recorded serial decides (revoked, a node's certificate used by another, an earlier CA's).
 */
export async function requireNodeCertificate(db: Db, tls: AgentTls, req: IncomingMessage, node: { id: string; name: string }): Promise<void> {
  const socket = req.socket as Partial<TLSSocket>;
  const peer = typeof socket.getPeerCertificate === 'function' && socket.authorized ? socket.getPeerCertificate() : null;
  if (!peer || !peer.serialNumber) {
    throw new DomainError(
      'UNAUTHORIZED',
      `This control plane requires mutual TLS for the agents' API: call port ${tls.port} with the client certificate issued at the join (an agent that lost it joins again with a new token)`,
    );
  }
  const serial = peer.serialNumber.toUpperCase();
  const [row] = await db
    .select({ nodeId: nodeCertificates.nodeId, revokedAt: nodeCertificates.revokedAt, caFingerprint: nodeCertificates.caFingerprint, live: sql<boolean>`${nodeCertificates.notAfter} > now()` })
    .from(nodeCertificates)
    .where(eq(nodeCertificates.serial, serial));
  if (!row || row.caFingerprint !== tls.ca.fingerprint) throw new DomainError('UNAUTHORIZED', `The client certificate ${serial} was not issued by this control plane's CA: join again with a new token`);
  if (row.revokedAt) throw new DomainError('UNAUTHORIZED', `The client certificate ${serial} was revoked on ${row.revokedAt.toISOString()}: join again with a new token`);
  if (!row.live) throw new DomainError('UNAUTHORIZED', `The client certificate ${serial} has expired: join again with a new token`);
  if (row.nodeId !== node.id || peer.subject?.CN !== node.id) throw new DomainError('UNAUTHORIZED', `The client certificate ${serial} belongs to another node than the credential's`);
}
