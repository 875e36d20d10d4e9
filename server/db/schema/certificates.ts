import { check, index, integer, pgTable, smallint, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { bytea, dataKeys } from './chat';
import { gpuNodes } from './fleet';

/**
 * The internal certificate authority (server/security/certificates/): one row at most, written by the
 * first process to start. The private key is sealed under an install data key, never stored in clear.
 * Absent while an organisation's CA is supplied through ENCLAVE_CA_CERT/ENCLAVE_CA_KEY.
 */
export const certificateAuthority = pgTable(
  'certificate_authority',
  {
    id: smallint('id').primaryKey().default(1),
    certPem: text('cert_pem').notNull(),
    keyCiphertext: bytea('key_ciphertext').notNull(),
    dataKeyId: integer('data_key_id')
      .notNull()
      .references(() => dataKeys.id),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [check('certificate_authority_single_check', sql`${t.id} = 1`)],
);

/**
 * Client certificates issued to agents (server/fleet/nodes/node-certificates.ts), by serial (upper-case
 * hex, as Node reports a peer's). The agent API accepts a certificate only while its row says it is this
 * node's and not revoked; a removed node takes its rows with it.
 */
export const nodeCertificates = pgTable(
  'node_certificates',
  {
    serial: text('serial').primaryKey(),
    nodeId: uuid('node_id')
      .notNull()
      .references(() => gpuNodes.id, { onDelete: 'cascade' }),
    /** sha256 of the issuing CA's certificate: a certificate from an earlier CA is not this one's. */
    caFingerprint: text('ca_fingerprint').notNull(),
    notBefore: timestamp('not_before', { withTimezone: true }).notNull(),
    notAfter: timestamp('not_after', { withTimezone: true }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('node_certificates_node_idx').on(t.nodeId)],
);
