import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { envSchema, parseEnv } from '../server/core/env';
import { loadMasterKey } from '../server/security/master-key';
import { composeSchemaValidator, interpolateAll, readCompose, readEnvFile, type ComposeFile } from './testing/compose-file';

const here = import.meta.dirname;
const raw = readCompose(path.join(here, 'compose.yaml'));
const example = readEnvFile(path.join(here, '.env.example'));
const used = new Map<string, string | undefined>();
/** As `docker compose up` sees it with no .env: every default. */
const compose = interpolateAll(raw, {}, used) as ComposeFile;
const services = compose.services as Record<string, ComposeFile>;
const ROLES = ['web', 'gateway', 'worker', 'agent'];
const enclaveServices = Object.entries(services).filter(([, s]) => s.image === 'localhost/enclave:latest');
/** Variables the Enclave services set that Enclave does not read itself, each read by what is named. */
const NOT_ENCLAVE_SETTINGS: Record<string, string> = {
  PGPASSFILE: 'node-postgres (pgpass): the database password, kept out of DATABASE_URL',
  NODE_EXTRA_CA_CERTS: 'Node: a private CA for the gateway’s certificate',
};
const containerfile = fs.readFileSync(path.join(here, 'image/Containerfile'), 'utf8');

describe('deploy/compose.yaml', () => {
  it('is valid against the Compose specification, with the defaults and with .env.example', () => {
    const validate = composeSchemaValidator();
    expect(validate(compose)).toBeNull();
    expect(validate(interpolateAll(raw, example))).toBeNull();
    // The validator is not a rubber stamp.
    expect(validate({ services: { web: { image: 'x', healthcheck: { interval: 'often' } } } })).toMatch(/interval/);
    expect(validate({ services: { web: { image: 'x', deploy: { resources: { reservations: { devices: [{ driver: 'nvidia', gpus: 1 }] } } } } } })).toMatch(/additional properties/);
  });

  it('documents every variable it reads in .env.example, with the same default', () => {
    expect([...used.keys()].sort()).toEqual(Object.keys(example).sort());
    for (const [name, fallback] of used) expect(example[name], name).toBe(fallback ?? '');
  });

  it('runs each role of the Enclave image as its non-root user, on a read-only root with /tmp in memory', () => {
    expect(enclaveServices.map(([, s]) => s.command[0]).sort()).toEqual([...ROLES].sort());
    const imageUser = /^USER (\S+)$/m.exec(containerfile)![1];
    expect(/^ENTRYPOINT \[.*"enclave"\]$/m.test(containerfile)).toBe(true);
    for (const [name, s] of Object.entries(services)) {
      expect(s.user, name).toMatch(/^[1-9]\d*:[1-9]\d*$/);
      expect(s.read_only, name).toBe(true);
      expect(s.tmpfs.some((t: string) => t.split(':')[0] === '/tmp'), name).toBe(true);
      expect(s.cap_drop, name).toEqual(['ALL']);
      expect(s.security_opt, name).toContain('no-new-privileges:true');
    }
    for (const [name, s] of enclaveServices) {
      expect(s.user, name).toBe(imageUser);
      expect(s.command, name).toHaveLength(1);
    }
  });

  it('gives every service a health check, the roles the image’s own where they listen', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(s.healthcheck?.test?.[0], name).toBe('CMD');
      expect(s.healthcheck.disable).toBeUndefined();
    }
    for (const role of ['web', 'gateway']) expect(services[role].healthcheck.test).toEqual(['CMD', 'node', '/app/deploy/image/healthcheck.mjs']);
    expect(fs.readFileSync(path.join(here, 'image/assemble.sh'), 'utf8')).toContain('deploy/image/healthcheck.mjs');
  });

  it('checks the worker and agent by their stores, and that check fails when a store is down', () => {
    const script = services.worker.healthcheck.test[3] as string;
    expect(services.agent.healthcheck.test[3]).toBe(script);
    // Here PostgreSQL and Redis listen on loopback: point the check's names there.
    const local = script.replace(/'postgres'|'redis'/g, "'127.0.0.1'");
    expect(spawnSync(process.execPath, ['-e', local], { timeout: 10_000 }).status).toBe(0);
    const closed = local.replace('6379', '1');
    expect(spawnSync(process.execPath, ['-e', closed], { timeout: 10_000 }).status).toBe(1);
  });

  it("sets only settings Enclave reads, with values Enclave's own configuration schema accepts", () => {
    const known = new Set(Object.keys(envSchema.shape));
    for (const [name, s] of enclaveServices) {
      for (const variable of Object.keys(s.environment)) expect(known.has(variable) || variable in NOT_ENCLAVE_SETTINGS, `${name}: ${variable}`).toBe(true);
      const env = { ...s.environment, ENCLAVE_MASTER_KEY_FILE: undefined } as Record<string, string | undefined>;
      expect(() => parseEnv(env), name).not.toThrow();
      for (const secret of s.secrets) expect(compose.secrets[secret], `${name}: secret ${secret}`).toBeDefined();
    }
    const env = services.web.environment;
    const db = new URL(env.DATABASE_URL);
    expect([db.hostname, db.port, db.pathname.slice(1), db.username, db.password]).toEqual(['postgres', '5432', services.postgres.environment.POSTGRES_DB, services.postgres.environment.POSTGRES_USER, '']);
    expect(new URL(env.REDIS_URL).hostname).toBe('redis');
    expect(new URL(env.ENCLAVE_GATEWAY_URL).hostname).toBe('gateway');
    expect(env.ENCLAVE_MASTER_KEY_FILE).toBe('/run/secrets/enclave_master_key');
    expect(env.PGPASSFILE).toBe('/run/secrets/enclave_pgpass');
  });

  it('shares one data volume between web, worker and agent, and declares every volume, network and secret it uses', () => {
    const dataVolume = (s: ComposeFile) => (s.volumes as string[]).find((v) => v.endsWith(':/var/lib/enclave'))?.split(':')[0];
    for (const role of ['web', 'worker', 'agent']) expect(dataVolume(services[role]), role).toBe('enclave-data');
    for (const [name, s] of Object.entries(services)) {
      for (const v of s.volumes ?? []) {
        const source = (v as string).split(':')[0];
        if (!source.startsWith('.') && !source.startsWith('/')) expect(compose.volumes[source], `${name}: volume ${source}`).toBeDefined();
      }
      for (const n of Array.isArray(s.networks) ? s.networks : Object.keys(s.networks)) expect(compose.networks[n], `${name}: network ${n}`).toBeDefined();
      for (const secret of s.secrets ?? []) expect(compose.secrets[secret], `${name}: secret ${secret}`).toBeDefined();
      for (const dep of Object.keys(s.depends_on ?? {})) expect(services[dep].healthcheck, `${name} waits for ${dep}`).toBeDefined();
    }
  });

  it('publishes only web and gateway; the stores and the engines sit on networks with no route out', () => {
    const networksOf = (s: ComposeFile) => (Array.isArray(s.networks) ? s.networks : Object.keys(s.networks)) as string[];
    const members = (net: string) => Object.keys(services).filter((n) => networksOf(services[n]).includes(net)).sort();
    expect(Object.keys(services).filter((n) => services[n].ports).sort()).toEqual(['gateway', 'web']);
    expect(members('edge')).toEqual(['gateway', 'web']);
    expect(members('backend')).toEqual(['agent', 'gateway', 'postgres', 'redis', 'web', 'worker']);
    // Engines are reached by the gateway (requests), the worker (readiness probes) and their agent; never by web.
    expect(members('engines')).toEqual(['agent', 'gateway', 'vllm', 'worker']);
    expect(compose.networks.backend.internal).toBe(true);
    expect(compose.networks.engines.internal).toBe(true);
    // The agent's engines listen on its fixed address on the engines network.
    const agent = services.agent;
    expect(agent.environment.ENCLAVE_ENGINE_HOST).toBe(agent.networks.engines.ipv4_address);
    const [subnet, bits] = compose.networks.engines.ipam.config[0].subnet.split('/');
    const toInt = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
    const mask = 2 ** 32 - 2 ** (32 - Number(bits));
    expect((toInt(agent.environment.ENCLAVE_ENGINE_HOST) & mask) >>> 0).toBe((toInt(subnet) & mask) >>> 0);
  });

  it('reserves the GPUs for vLLM, which serves offline with its key kept off the command line', () => {
    const vllm = services.vllm;
    expect(vllm.deploy.resources.reservations.devices).toEqual([{ driver: 'nvidia', count: 'all', capabilities: ['gpu'] }]);
    expect(vllm.environment).toMatchObject({ HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1' });
    expect(vllm.command[0]).toContain('export VLLM_API_KEY="$(cat /run/secrets/vllm_api_key)"');
    expect(vllm.command[0]).not.toContain('--api-key');
    expect(vllm.secrets).toEqual(['vllm_api_key']);
    // The agent sees the GPUs for inventory and telemetry (nvidia-smi), and runs only the built-in engine.
    expect(services.agent.deploy.resources.reservations.devices[0].capabilities).toEqual(['gpu', 'utility']);
    expect(services.agent.environment.ENCLAVE_NODE_LABELS).toBe('enclave.io/engines=llamacpp');
  });
});

describe('deploy/compose-secrets.sh', () => {
  const run = (dir: string) => spawnSync('sh', [path.join(here, 'compose-secrets.sh'), dir], { encoding: 'utf8' });

  it('writes every secret file compose.yaml names, each accepted by what reads it', async () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-secrets-')), 'secrets');
    const result = run(dir);
    expect(result.status, result.stderr).toBe(0);
    for (const [name, secret] of Object.entries(compose.secrets as Record<string, { file: string }>)) {
      const file = path.join(dir, path.relative('./secrets', secret.file));
      expect(fs.existsSync(file), `${name}: ${secret.file}`).toBe(true);
      expect(fs.statSync(file).mode & 0o777, name).toBe(0o600);
    }
    if (process.getuid?.() === 0) {
      const uid = Number(/^USER (\d+)/m.exec(containerfile)![1]);
      expect(fs.statSync(path.join(dir, 'master.key')).uid).toBe(uid);
      expect(fs.statSync(path.join(dir, 'postgres_password')).uid).toBe(Number(services.postgres.user.split(':')[0]));
      expect(fs.statSync(path.join(dir, 'vllm_api_key')).uid).toBe(Number(services.vllm.user.split(':')[0]));
    }
    // Enclave's loader (with its mode check) takes the master key.
    const key = await loadMasterKey({ dataDir: os.tmpdir(), ENCLAVE_MASTER_KEY_FILE: path.join(dir, 'master.key'), ENCLAVE_MASTER_KEY_COMMAND_TIMEOUT_MS: 1000 } as never, { create: false });
    expect(key.key).toHaveLength(32);
    // node-postgres' pgpass reader finds the password PostgreSQL was given, for the URL compose.yaml uses.
    const db = new URL(services.web.environment.DATABASE_URL);
    const pgpass = createRequire(import.meta.url)('pgpass') as (conn: object, cb: (pw?: string) => void) => void;
    const saved = process.env.PGPASSFILE;
    process.env.PGPASSFILE = path.join(dir, 'enclave.pgpass');
    try {
      const lookup = (database: string, user = db.username) => new Promise<string | undefined>((resolve) => pgpass({ host: db.hostname, port: Number(db.port), database, user }, resolve));
      const password = await lookup(db.pathname.slice(1));
      expect(password).toBe(fs.readFileSync(path.join(dir, 'postgres_password'), 'utf8').trim());
      expect(password).toMatch(/^[0-9a-f]{48}$/);
      // A restore drill's scratch database too; another user gets nothing.
      expect(await lookup('enclave_drill_1')).toBe(password);
      expect(await lookup('enclave', 'postgres')).toBeUndefined();
    } finally {
      if (saved === undefined) delete process.env.PGPASSFILE;
      else process.env.PGPASSFILE = saved;
    }
  });

  it('never overwrites an existing master key', () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-secrets-')), 'secrets');
    expect(run(dir).status).toBe(0);
    const before = fs.readFileSync(path.join(dir, 'master.key'));
    const again = run(dir);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('exists; nothing changed');
    expect(fs.readFileSync(path.join(dir, 'master.key'))).toEqual(before);
  });

  it('is valid POSIX sh', () => {
    expect(() => execFileSync('sh', ['-n', path.join(here, 'compose-secrets.sh')])).not.toThrow();
  });
});
