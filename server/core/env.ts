import path from 'node:path';
import { z } from 'zod';
import { parseAllowList } from './net/allow-list';
import { parseAddressList } from './net/address-list';
import { parseCorsOrigins } from './net/origins';

/**
 * Every setting Enclave reads, validated once at start. A bad value stops the start with a message
 * that names the variable, so a typo never becomes a silent default.
 */
const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().positive();
const flag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** A comma-separated list of http(s) URLs; each must parse. */
const urlList = z.string().refine(
  (text) =>
    text.split(',').every((entry) => {
      const u = entry.trim();
      if (!u) return true;
      try {
        return ['http:', 'https:'].includes(new URL(u).protocol);
      } catch {
        return false;
      }
    }),
  'must be http or https URLs, comma-separated',
);
/** A comma-separated list of IP addresses and CIDR blocks. */
const addressList = z.string().refine((text) => {
  try {
    parseAddressList(text);
    return true;
  } catch {
    return false;
  }
}, 'must be IP addresses or CIDR blocks (10.0.0.0/8), comma-separated');

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('production'),
  PORT: port.default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  GATEWAY_PORT: port.default(3001),
  /** Where the web role reaches the gateway when they run as separate processes. */
  ENCLAVE_GATEWAY_URL: z.string().url().optional(),
  /**
   * HTTPS on the web and gateway listeners (server/http/tls.ts): a PEM certificate (chain) and its key,
   * both or neither; checked at start (readable, matching, not expired), TLS 1.2 at least, re-read when
   * the files change (a bad new pair is refused with a log line, the old one kept). Unset: plain HTTP
   * (TLS at an ingress in front).
   */
  ENCLAVE_TLS_CERT: z.string().min(1).optional(),
  ENCLAVE_TLS_KEY: z.string().min(1).optional(),
  /** Strict-Transport-Security's max-age (seconds) on every answer while TLS is on; 0: no header. Never sent without TLS. */
  ENCLAVE_HSTS_MAX_AGE: z.coerce.number().int().min(0).default(31_536_000),
  /** How often the TLS files are checked for a change (ms). */
  ENCLAVE_TLS_RELOAD_MS: z.coerce.number().int().min(50).default(5_000),
  /**
   * With TLS on, the agents' API (/api/agent/*, after the join) is served on this port only, with mutual
   * TLS: each agent presents the client certificate the internal CA issued it at the join.
   */
  ENCLAVE_AGENT_PORT: port.default(3002),
  /**
   * An organisation's CA (PEM files, both or neither; an RSA key) that issues the agents' client
   * certificates instead of the internal CA Enclave creates at first start.
   */
  ENCLAVE_CA_CERT: z.string().min(1).optional(),
  ENCLAVE_CA_KEY: z.string().min(1).optional(),
  /** How long an agent's client certificate is valid (days, fractions allowed); agents renew with a third of it left. */
  ENCLAVE_AGENT_CERT_DAYS: z.coerce.number().positive().max(825).default(30),
  /** On a remote agent: a PEM file of the CA that signed the control plane's server certificate, when the system's CAs do not know it. */
  ENCLAVE_CONTROL_CA: z.string().min(1).optional(),
  /** Origins whose browser apps may call /v1 (comma-separated, scheme://host[:port]); none by default. */
  ENCLAVE_CORS_ORIGINS: z
    .string()
    .optional()
    .superRefine((text, ctx) => {
      try {
        parseCorsOrigins(text);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
      }
    }),
  /** Unset: start an embedded PostgreSQL under the data directory. */
  DATABASE_URL: z.string().url().optional(),
  /**
   * The role that owns the tables. When set, migrations run through it and it grants DATABASE_URL's
   * role only what the app needs (on audit_log: SELECT and INSERT), so the app cannot truncate or
   * rewrite the audit log or switch its trigger off. Unset: migrations run through DATABASE_URL.
   */
  DATABASE_OWNER_URL: z.string().url().optional(),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  /** A prefix for every Redis key and queue, so several installs (or test files) can share one Redis. */
  REDIS_PREFIX: z.string().regex(/^[a-zA-Z0-9:_-]*$/).default('enclave'),
  ENCLAVE_DATA_DIR: z.string().min(1).default('./.data'),
  /** GGUF files the agent registers and deploys on llama.cpp. Unset: the repository's models/ (the demo model); `none`: nothing. */
  ENCLAVE_MODELS_DIR: z.string().min(1).optional(),
  /**
   * 32 bytes, base64 or hex. At most one of ENCLAVE_MASTER_KEY, _FILE and _COMMAND; none: generated once
   * into the data directory (mode 0600), where a copy of the directory carries it (a warning at start).
   */
  ENCLAVE_MASTER_KEY: z.string().optional(),
  /** A file holding the master key, readable by its owner only (refused otherwise). */
  ENCLAVE_MASTER_KEY_FILE: z.string().min(1).optional(),
  /** A command (words, or a JSON array; no shell) run once at start whose output is the key: Vault, a KMS. */
  ENCLAVE_MASTER_KEY_COMMAND: z.string().min(1).optional(),
  /** A key command still running after this is killed and the start fails: a hung KMS must not hang the start. */
  ENCLAVE_MASTER_KEY_COMMAND_TIMEOUT_MS: positiveInt.default(30_000),
  /**
   * Where checkpoints of the audit chain's head are appended (MACed with a key derived from the master
   * key). Default: <data dir>/audit-anchors. Outside the database by design; on another disk or host
   * (shared by every web and worker process) a database compromise cannot reach them.
   */
  ENCLAVE_AUDIT_ANCHOR_DIR: z.string().min(1).optional(),
  /** How often the worker checkpoints the audit chain's head (when it moved): rows newer than the last checkpoint can vanish unnoticed. */
  ENCLAVE_AUDIT_CHECKPOINT_SECONDS: positiveInt.default(60),
  /** How long audit rows stay in PostgreSQL (days, at least 180): older months are archived to ENCLAVE_AUDIT_ARCHIVE_DIR, then dropped. */
  ENCLAVE_AUDIT_RETENTION_DAYS: z.coerce.number().int().min(180, 'audit rows are kept at least 180 days').default(400),
  /** Where months past retention are exported (JSONL, their checkpoints, a manifest of hashes) before they are dropped (unset: <data dir>/audit-archive). */
  ENCLAVE_AUDIT_ARCHIVE_DIR: z.string().min(1).optional(),
  /** Where `enclave backup` and the daily backup write (unset: <data dir>/backups, left out of backups; put them on other storage). */
  ENCLAVE_BACKUP_DIR: z.string().min(1).optional(),
  /** How many backups the daily task keeps (oldest removed first); 0: no daily backup. */
  ENCLAVE_BACKUP_KEEP: z.coerce.number().int().min(0).default(7),
  /** A file (mode 0600) holding the 32-byte backup key; unset: a key derived from the master key (HKDF, its own label). */
  ENCLAVE_BACKUP_KEY_FILE: z.string().min(1).optional(),
  /**
   * Where datasets, model outputs, load-test exports and backups are kept (server/artifacts/): `dir`, a
   * directory every role mounts (ENCLAVE_ARTIFACTS_DIR, default the data directory), or `s3`, an
   * S3-compatible bucket. Either way the bytes are sealed by Enclave's envelope encryption.
   */
  ENCLAVE_ARTIFACTS: z.enum(['dir', 's3']).default('dir'),
  /** The shared directory of the `dir` store (unset: the data directory, where earlier versions kept datasets). */
  ENCLAVE_ARTIFACTS_DIR: z.string().min(1).optional(),
  /** An S3-compatible endpoint (MinIO, Ceph RGW, …); unset: AWS S3 in ENCLAVE_S3_REGION. */
  ENCLAVE_S3_ENDPOINT: z.string().url().optional(),
  ENCLAVE_S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)').optional(),
  ENCLAVE_S3_REGION: z.string().min(1).default('us-east-1'),
  /** Prepended to every object key, so one bucket can hold several installs. */
  ENCLAVE_S3_PREFIX: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._/-]*$/, 'must be letters, digits and ._-/').optional(),
  /** Static credentials (a key id and its secret, each inline or in a file); unset: the SDK's default chain (instance role, web identity). */
  ENCLAVE_S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  ENCLAVE_S3_ACCESS_KEY_ID_FILE: z.string().min(1).optional(),
  ENCLAVE_S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  ENCLAVE_S3_SECRET_ACCESS_KEY_FILE: z.string().min(1).optional(),
  /** Path-style requests (endpoint/bucket/key), which most S3-compatible servers need. */
  ENCLAVE_S3_FORCE_PATH_STYLE: flag.default(false),
  /** Server-side encryption asked of S3 on top of Enclave's own: none, AES256 (SSE-S3) or aws:kms (SSE-KMS). */
  ENCLAVE_S3_SSE: z.enum(['none', 'AES256', 'aws:kms']).default('none'),
  /** The KMS key for ENCLAVE_S3_SSE=aws:kms (unset: the bucket's default key). */
  ENCLAVE_S3_SSE_KMS_KEY_ID: z.string().min(1).optional(),
  /** Multipart upload part size in MiB (S3's minimum is 5); each upload holds about two parts in memory. */
  ENCLAVE_S3_PART_MB: z.coerce.number().int().min(5).max(5120).default(16),
  // Loose on purpose: admin@localhost is a fine address on a private install.
  ENCLAVE_ADMIN_EMAIL: z.string().regex(/^[^\s@]+@[^\s@]+$/, 'must be an email address').optional(),
  ENCLAVE_ADMIN_PASSWORD: z.string().min(8).optional(),
  ENCLAVE_SECURE_COOKIES: flag.default(true),
  ENCLAVE_SESSION_HOURS: positiveInt.default(24 * 7),
  /** The shortest password a person may choose (NIST SP 800-63B: at least 8; 15 where a password alone signs in). */
  ENCLAVE_PASSWORD_MIN_LENGTH: positiveInt.max(256).default(12),
  /** How many earlier passwords of a person (kept as argon2id hashes) a new one may not repeat; 0: none. */
  ENCLAVE_PASSWORD_HISTORY: z.coerce.number().int().min(0).max(50).default(5),
  /**
   * The URLs people reach Enclave at. A request naming another host is refused (DNS rebinding), and a
   * browser's Origin must match exactly. Unset: this machine's name, localhost and IP addresses.
   */
  ENCLAVE_PUBLIC_URL: urlList.optional(),
  /** Proxies whose X-Forwarded-For/-Proto are believed (never anyone else's); also exempt from the connection cap. */
  ENCLAVE_TRUSTED_PROXIES: addressList.optional(),
  /** Open connections one client address may hold on the web and gateway listeners; 0: no cap. Loopback is exempt. */
  ENCLAVE_MAX_CONNECTIONS_PER_CLIENT: z.coerce.number().int().min(0).default(256),
  /** A request's headers must arrive within this, its body within ENCLAVE_BODY_TIMEOUT_MS and with no pause over the idle timeout. */
  ENCLAVE_HEADERS_TIMEOUT_MS: positiveInt.default(20_000),
  ENCLAVE_BODY_TIMEOUT_MS: positiveInt.default(60_000),
  ENCLAVE_BODY_IDLE_TIMEOUT_MS: positiveInt.default(15_000),
  /** Dataset uploads (up to ENCLAVE_DATASET_MAX_BYTES) get this long for their body instead. */
  ENCLAVE_UPLOAD_TIMEOUT_MS: positiveInt.default(60 * 60_000),
  /** llama.cpp threads per engine process: tiny models are far faster on one thread (see models/README.md). */
  ENCLAVE_LLAMACPP_THREADS: positiveInt.default(1),
  ENCLAVE_LLAMACPP_CONTEXT: positiveInt.default(2048),
  ENCLAVE_LLAMACPP_SEQUENCES: positiveInt.default(4),
  /** The `vllm` executable the agent runs (tests point it at server/engines/testing/bin/vllm, a double). */
  ENCLAVE_VLLM_BIN: z.string().min(1).default('vllm'),
  /**
   * How a vLLM replica spread over several hosts forms its group (read by the head's agent; workers follow
   * the head): 'mp', vLLM's own multi-node launch (`--nnodes/--node-rank/--master-addr/--headless`, vLLM
   * releases from late 2025 on), or 'ray', a Ray cluster (`ray start`) for older vLLM or Ray-based installs.
   */
  ENCLAVE_VLLM_MULTINODE: z.enum(['mp', 'ray']).default('mp'),
  /** The `ray` executable for ENCLAVE_VLLM_MULTINODE=ray. */
  ENCLAVE_RAY_BIN: z.string().min(1).default('ray'),
  /** The network interface multi-node vLLM's NCCL and Gloo use between hosts (NCCL_SOCKET_IFNAME, GLOO_SOCKET_IFNAME); unset: their own choice. */
  ENCLAVE_VLLM_SOCKET_IFNAME: z.string().regex(/^[A-Za-z0-9_.:^,=-]{1,64}$/, 'must be an interface name (e.g. eth1 or ^lo,docker)').optional(),
  /** Hugging Face TGI's `text-generation-launcher` (tests point it at server/engines/testing/bin/text-generation-launcher, a double). */
  ENCLAVE_TGI_BIN: z.string().min(1).default('text-generation-launcher'),
  /** The Python that runs `-m sglang.launch_server` (tests point it at server/engines/testing/bin/sglang-python, a double). */
  ENCLAVE_SGLANG_PYTHON: z.string().min(1).default('python3'),
  /** Python that runs trainers/*.py; ENCLAVE_TRAINER_COMMAND replaces the whole command (tests run the trainer double). */
  ENCLAVE_TRAINER_PYTHON: z.string().min(1).default('python3'),
  /** A command prefix (words, or a JSON array) run instead of `python3 trainers/X.py`; the trainer's flags follow it. */
  ENCLAVE_TRAINER_COMMAND: z.string().min(1).optional(),
  /** Quality gate: a quantized version whose perplexity rises by more than this (percent) is not promoted without an override. */
  ENCLAVE_QUALITY_GATE_MAX_DELTA_PCT: z.coerce.number().min(0).max(1000).default(5),
  /** The largest dataset upload (bytes of JSONL); a larger one is refused with 413 and nothing is kept. */
  ENCLAVE_DATASET_MAX_BYTES: positiveInt.default(2 * 1024 * 1024 * 1024),
  /**
   * Processes of the standalone `enclave gateway` role sharing GATEWAY_PORT (node:cluster); 0: one per
   * core. `enclave start` serves /v1 from its web process and ignores this.
   */
  GATEWAY_WORKERS: z.coerce.number().int().min(0).max(256).default(0),
  GATEWAY_MAX_BODY_BYTES: positiveInt.default(4 * 1024 * 1024),
  /** One image in a chat request (decoded bytes), and every image of one request together; image data counts apart from GATEWAY_MAX_BODY_BYTES. */
  GATEWAY_MAX_IMAGE_BYTES: positiveInt.default(10 * 1024 * 1024),
  GATEWAY_MAX_REQUEST_IMAGE_BYTES: positiveInt.default(20 * 1024 * 1024),
  /** What one person's /v1/files uploads may hold together (files never expire: the owner deletes them). */
  GATEWAY_MAX_STORED_FILE_BYTES: positiveInt.default(1024 * 1024 * 1024),
  /** The largest /v1/audio/transcriptions upload (OpenAI's limit is 25 MiB). */
  GATEWAY_MAX_AUDIO_BYTES: positiveInt.default(25 * 1024 * 1024),
  GATEWAY_FIRST_TOKEN_TIMEOUT_MS: positiveInt.default(60_000),
  GATEWAY_REQUEST_TIMEOUT_MS: positiveInt.default(10 * 60_000),
  /** A replica failing this many requests in a row is set aside for GATEWAY_BREAKER_COOLDOWN_MS, then probed by one request. */
  GATEWAY_BREAKER_FAILURES: positiveInt.default(3),
  GATEWAY_BREAKER_COOLDOWN_MS: positiveInt.default(30_000),
  GATEWAY_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(0),
  /** Requests one API key (or one user's chat) may have in flight at once on a gateway process; 0: no cap. */
  GATEWAY_MAX_CONCURRENT_PER_KEY: z.coerce.number().int().min(0).default(16),
  /** This host's node name in the fleet (default: the hostname) and its labels, "zone=a,gpu=a100". */
  ENCLAVE_NODE_NAME: z.string().regex(/^[A-Za-z0-9._-]{1,63}$/, 'letters, digits, dot, dash, underscore; up to 63').optional(),
  ENCLAVE_NODE_LABELS: z.string().regex(/^([A-Za-z0-9._\/-]{1,63}=[A-Za-z0-9._-]{0,63})(,[A-Za-z0-9._\/-]{1,63}=[A-Za-z0-9._-]{0,63})*$/, 'comma-separated key=value pairs').optional(),
  /**
   * The address this host's engines listen on and the gateway reaches them at: loopback by default (one
   * machine), or this host's private address when the gateway runs elsewhere (a remote agent, a pod).
   * Never every interface: engines are reached only through the gateway, each with its replica's secret.
   */
  ENCLAVE_ENGINE_HOST: z
    .string()
    .trim()
    .min(1)
    .refine((h) => !['0.0.0.0', '::', '[::]', '*'].includes(h), 'must be one address (loopback or a private one), not every interface')
    .optional(),
  /** A remote agent joins the control plane at this URL (https; plain http only to loopback or when allowed). */
  ENCLAVE_JOIN_URL: z.string().url().optional(),
  ENCLAVE_JOIN_TOKEN: z.string().min(1).optional(),
  ENCLAVE_ALLOW_INSECURE_JOIN: flag.default(false),
  /**
   * Hosts, IP addresses or CIDR ranges, each optionally with :port ("127.0.0.1:8000,vllm.lan,fd00::/8"),
   * that the URLs users give Enclave (upstream APIs, load-test targets, alert webhooks) may reach although
   * the outbound policy refuses them by default: loopback, link-local, cloud metadata, multicast, this
   * host's own addresses and this install's gateway. Private networks need no entry.
   */
  ENCLAVE_OUTBOUND_ALLOW: z
    .string()
    .default('')
    .superRefine((text, ctx) => {
      try {
        parseAllowList(text);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
      }
    }),
  /** Blind side-by-side votes one user may cast per UTC day (rounds are refused once it is reached). */
  ENCLAVE_ARENA_DAILY_VOTES: positiveInt.default(200),
  /**
   * How long a reply being streamed stays "in progress" without its writer renewing it (renewed every
   * third of it). Past it, the worker's sweep marks the reply interrupted and audits the turn: what a
   * killed process had streamed is kept, and no turn goes unaudited. Long enough to ride out a slow
   * database write, short enough that a restarted install settles its interrupted turns quickly.
   */
  ENCLAVE_REPLY_LEASE_MS: z.coerce.number().int().min(1_000).max(600_000).default(30_000),
  /**
   * A new conversation's title: the model writes a short one after the first exchange, in the
   * conversation's language ('model'), or the first message's opening words stay ('first-message').
   * Either way the owner can rename it; a rename is never overwritten.
   */
  ENCLAVE_CHAT_TITLES: z.enum(['model', 'first-message']).default('model'),
  /**
   * How long a worker's claim on a queue job lasts without renewal (renewed every half of it). A worker
   * killed mid-job has its job handed to another worker within about twice this (BullMQ's stalled-job
   * check runs as often); a worker whose event loop stalls longer than this may see its job delivered twice,
   * which every consumer tolerates (leases, row locks, advisory locks).
   */
  ENCLAVE_QUEUE_LOCK_MS: z.coerce.number().int().min(2_000).max(600_000).default(30_000),
  /**
   * LDAP / Active Directory sign-in (server/security/ldap/). Unset: local accounts only. ldap:// upgrades
   * with StartTLS unless ENCLAVE_LDAP_STARTTLS=false (passwords then cross the network in clear); ldaps://
   * is TLS from the start. The server's certificate is checked against ENCLAVE_LDAP_CA_FILE (PEM) or the
   * system's CAs.
   */
  ENCLAVE_LDAP_URL: z
    .string()
    .regex(/^ldaps?:\/\/[^/?#\s]+\/?$/i, 'must be ldap://host[:port] or ldaps://host[:port]')
    .optional(),
  ENCLAVE_LDAP_STARTTLS: flag.default(true),
  ENCLAVE_LDAP_CA_FILE: z.string().min(1).optional(),
  /** The service account that searches the directory; its password in _PASSWORD or a file (_PASSWORD_FILE). */
  ENCLAVE_LDAP_BIND_DN: z.string().min(1).optional(),
  ENCLAVE_LDAP_BIND_PASSWORD: z.string().min(1).optional(),
  ENCLAVE_LDAP_BIND_PASSWORD_FILE: z.string().min(1).optional(),
  /** Where users are searched, and how: {login} is replaced by what was typed, escaped (RFC 4515). */
  ENCLAVE_LDAP_USER_BASE: z.string().min(1).optional(),
  ENCLAVE_LDAP_USER_FILTER: z.string().includes('{login}', { message: 'must contain {login}' }).default('(|(uid={login})(mail={login}))'),
  ENCLAVE_LDAP_EMAIL_ATTRIBUTE: z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/).default('mail'),
  ENCLAVE_LDAP_NAME_ATTRIBUTE: z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/).default('cn'),
  /** Where groups are searched; {dn} is a member's DN (escaped). Unset: no groups read. */
  ENCLAVE_LDAP_GROUP_BASE: z.string().min(1).optional(),
  ENCLAVE_LDAP_GROUP_FILTER: z.string().includes('{dn}', { message: 'must contain {dn}' }).default('(|(member={dn})(uniqueMember={dn}))'),
  /** Groups in groups: AD's LDAP_MATCHING_RULE_IN_CHAIN (in-chain), a walk up member links (walk), none (off); auto: in-chain on AD. */
  ENCLAVE_LDAP_NESTED_GROUPS: z.enum(['auto', 'in-chain', 'walk', 'off']).default('auto'),
  ENCLAVE_LDAP_GROUP_DEPTH: z.coerce.number().int().min(1).max(50).default(10),
  /** "groupDN=role;groupDN=role": the first rule whose group the user is in (nested included) gives the role. */
  ENCLAVE_LDAP_ROLE_MAP: z
    .string()
    .regex(/^\s*[^;]+=\s*[a-z]+\s*(;\s*[^;]+=\s*[a-z]+\s*)*;?\s*$/, 'must be groupDN=role pairs separated by ;')
    .optional(),
  /** The role of a directory user no rule matched, or none: such a user is refused. */
  ENCLAVE_LDAP_DEFAULT_ROLE: z.enum(['none', 'admin', 'engineer', 'user', 'viewer']).default('none'),
  /** An LDAP filter matching disabled entries, e.g. AD's (userAccountControl:1.2.840.113556.1.4.803:=2), OpenLDAP's (pwdAccountLockedTime=*). */
  ENCLAVE_LDAP_DISABLED_FILTER: z.string().regex(/^\(.*\)$/, 'must be an LDAP filter in parentheses').optional(),
  ENCLAVE_LDAP_TIMEOUT_MS: positiveInt.default(10_000),
  ENCLAVE_LDAP_CONNECT_TIMEOUT_MS: positiveInt.default(5_000),
  /** How often the worker checks LDAP accounts against the directory (left, disabled, role changed). */
  ENCLAVE_LDAP_SYNC_MINUTES: positiveInt.default(15),
  /**
   * OpenID Connect sign-in (server/security/oidc/): a JSON file listing the providers (see README). Read
   * on first use; a bad file is logged and makes OIDC sign-ins fail saying why, local sign-in still works.
   */
  ENCLAVE_OIDC_PROVIDERS_FILE: z.string().min(1).optional(),
  /**
   * Password sign-in (local and LDAP): on; off (single sign-on only: the form is hidden and the server
   * refuses passwords); admins (break-glass: only admin accounts may use a password).
   */
  ENCLAVE_PASSWORD_SIGNIN: z.enum(['on', 'off', 'admins']).default('on'),
  /**
   * Data classification (server/security/classification/): the names of the four levels, lowest first
   * (stored as ranks 0..3, so renaming never rewrites data), and the level of a conversation, dataset or
   * API key nobody classified (a name from that list).
   */
  ENCLAVE_CLASSIFICATION_LEVELS: z
    .string()
    .default('public,internal,confidential,restricted')
    .refine((text) => {
      const names = text.split(',').map((n) => n.trim());
      return names.length === 4 && names.every((n) => /^[a-z][a-z0-9_-]{0,31}$/.test(n)) && new Set(names).size === 4;
    }, 'must be four distinct lowercase names, lowest first (public,internal,confidential,restricted)'),
  ENCLAVE_DEFAULT_CLASSIFICATION: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'must be one of the ENCLAVE_CLASSIFICATION_LEVELS names').default('internal'),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});

export type Env = z.infer<typeof envSchema> & { dataDir: string };

export class ConfigError extends Error {}

/** Parses the given variables; throws a ConfigError naming each bad variable. */
export function parseEnv(source: Record<string, string | undefined> = process.env): Env {
  // Empty strings mean "unset" (as a shell `FOO=` would intend), not "invalid".
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const result = envSchema.safeParse(cleaned);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return { ...result.data, dataDir: path.resolve(result.data.ENCLAVE_DATA_DIR) };
}

let cached: Env | undefined;
/** The process-wide configuration, parsed on first use. */
export function env(): Env {
  cached ??= parseEnv();
  return cached;
}
