import path from 'node:path';
import { z } from 'zod';

/**
 * Every setting Enclave reads, validated once at start. A bad value stops the start with a message
 * that names the variable, so a typo never becomes a silent default.
 */
const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().positive();
const flag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('production'),
  PORT: port.default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  GATEWAY_PORT: port.default(3001),
  /** Where the web role reaches the gateway when they run as separate processes. */
  ENCLAVE_GATEWAY_URL: z.string().url().optional(),
  /** Unset: start an embedded PostgreSQL under the data directory. */
  DATABASE_URL: z.string().url().optional(),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  /** A prefix for every Redis key and queue, so several installs (or test files) can share one Redis. */
  REDIS_PREFIX: z.string().regex(/^[a-zA-Z0-9:_-]*$/).default('enclave'),
  ENCLAVE_DATA_DIR: z.string().min(1).default('./.data'),
  ENCLAVE_MODELS_DIR: z.string().min(1).optional(),
  /** 32 bytes, base64 or hex. Unset: generated once into the data directory (mode 0600). */
  ENCLAVE_MASTER_KEY: z.string().optional(),
  // Loose on purpose: admin@localhost is a fine address on a private install.
  ENCLAVE_ADMIN_EMAIL: z.string().regex(/^[^\s@]+@[^\s@]+$/, 'must be an email address').optional(),
  ENCLAVE_ADMIN_PASSWORD: z.string().min(8).optional(),
  ENCLAVE_SECURE_COOKIES: flag.default(true),
  ENCLAVE_SESSION_HOURS: positiveInt.default(24 * 7),
  /** llama.cpp threads per engine process: tiny models are far faster on one thread (see models/SOURCES.md). */
  ENCLAVE_LLAMACPP_THREADS: positiveInt.default(1),
  ENCLAVE_LLAMACPP_CONTEXT: positiveInt.default(2048),
  ENCLAVE_LLAMACPP_SEQUENCES: positiveInt.default(4),
  /** The `vllm` executable the agent runs (tests point it at server/engines/testing/bin/vllm, a double). */
  ENCLAVE_VLLM_BIN: z.string().min(1).default('vllm'),
  /** Python that runs jobs/trainers/*.py; ENCLAVE_TRAINER_COMMAND replaces the whole command (tests run the trainer double). */
  ENCLAVE_TRAINER_PYTHON: z.string().min(1).default('python3'),
  /** A command prefix (words, or a JSON array) run instead of `python3 jobs/trainers/X.py`; the trainer's flags follow it. */
  ENCLAVE_TRAINER_COMMAND: z.string().min(1).optional(),
  /** Quality gate: a quantized version whose perplexity rises by more than this (percent) is not promoted without an override. */
  ENCLAVE_QUALITY_GATE_MAX_DELTA_PCT: z.coerce.number().min(0).max(1000).default(5),
  /** The largest dataset upload (bytes of JSONL); a larger one is refused with 413 and nothing is kept. */
  ENCLAVE_DATASET_MAX_BYTES: positiveInt.default(2 * 1024 * 1024 * 1024),
  GATEWAY_MAX_BODY_BYTES: positiveInt.default(4 * 1024 * 1024),
  GATEWAY_FIRST_TOKEN_TIMEOUT_MS: positiveInt.default(60_000),
  GATEWAY_REQUEST_TIMEOUT_MS: positiveInt.default(10 * 60_000),
  GATEWAY_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(0),
  /** This host's node name in the fleet (default: the hostname) and its labels, "zone=a,gpu=a100". */
  ENCLAVE_NODE_NAME: z.string().regex(/^[A-Za-z0-9._-]{1,63}$/, 'letters, digits, dot, dash, underscore; up to 63').optional(),
  ENCLAVE_NODE_LABELS: z.string().regex(/^([A-Za-z0-9._\/-]{1,63}=[A-Za-z0-9._-]{0,63})(,[A-Za-z0-9._\/-]{1,63}=[A-Za-z0-9._-]{0,63})*$/, 'comma-separated key=value pairs').optional(),
  /** A remote agent joins the control plane at this URL (https; plain http only to loopback or when allowed). */
  ENCLAVE_JOIN_URL: z.string().url().optional(),
  ENCLAVE_JOIN_TOKEN: z.string().min(1).optional(),
  ENCLAVE_ALLOW_INSECURE_JOIN: flag.default(false),
  /** Blind side-by-side votes one user may cast per UTC day (rounds are refused once it is reached). */
  ENCLAVE_ARENA_DAILY_VOTES: positiveInt.default(200),
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
