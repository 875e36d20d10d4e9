import { X509Certificate } from 'node:crypto';
import dns from 'node:dns/promises';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, type Env } from '../../core/env';
import { isPrivateAddress } from '../../core/net/private-address';
import { errorMessage, log } from '../../core/log';
import { launcherFor } from '../engine-launch';
import { createReplicaSupervisor } from '../replica-supervisor';
import { modelPreparer } from '../model-cache';
import { readInventory } from '../../gpu/inventory';
import type { Inventory } from '../../gpu/types';
import { readHostStats } from '../host/host-stats';
import { controlPlaneClient, controlPlaneUrl, createTransport, joinControlPlane } from './control-client';
import { createCsr, generateRsaKey } from '../../security/certificates/x509';
import { nodeLabels } from './labels';
import { createTrainerRunner } from './remote-trainers';

/** What a joined agent keeps (mode 0600): its credential and, with mutual TLS, its key and certificate. */
type SavedCredential = { joinUrl: string; nodeName: string; credential: string; tls?: SavedTls };
type SavedTls = { key: string; certificate: string; caCertificate: string; agentPort: number };

/**
 * Where a remote host's engines listen, which is also the address the gateway dials: loopback would not
 * reach them, every interface (or whatever the host name resolves to) could expose them to any network.
 * ENCLAVE_ENGINE_HOST, else a specific HOST; nothing is guessed.
 */
function remoteEngineHost(env: Env): string {
  const host = env.ENCLAVE_ENGINE_HOST ?? (['0.0.0.0', '::', '[::]'].includes(env.HOST) ? undefined : env.HOST);
  if (!host) throw new ConfigError('ENCLAVE_ENGINE_HOST must be set on a remote agent: the private address the gateway reaches this host at (its engines listen there only)');
  return host;
}

/**
 * The engine host, once every address it resolves to is private (or loopback): engines speak plain HTTP
 * with their replica's secret in each request, so they must never listen where another network reaches
 * them. A public address stops the start, saying so.
 */
async function privateEngineHost(host: string): Promise<string> {
  let addresses: string[];
  try {
    addresses = (await dns.lookup(host.replace(/^\[(.*)\]$/, '$1'), { all: true })).map((a) => a.address);
  } catch (e) {
    throw new ConfigError(`ENCLAVE_ENGINE_HOST: ${host} does not resolve (${(e as NodeJS.ErrnoException).code ?? errorMessage(e)})`);
  }
  const exposed = addresses.filter((a) => !isPrivateAddress(a));
  if (exposed.length) {
    throw new ConfigError(
      `ENCLAVE_ENGINE_HOST: ${host} is ${exposed.join(', ')}, not a private address: engines answer plain HTTP (their replica secret in every request), so they listen only on a private network (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) or loopback`,
    );
  }
  return host;
}

/** The PEM of ENCLAVE_CONTROL_CA, checked to be a certificate. */
function readControlCa(file: string): string {
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`ENCLAVE_CONTROL_CA: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? errorMessage(e)})`);
  }
  try {
    new X509Certificate(pem);
  } catch {
    throw new ConfigError(`ENCLAVE_CONTROL_CA: ${file} does not hold a PEM certificate`);
  }
  return pem;
}

/**
 * An agent on another host: joins the control plane once with a one-time token (the credential it gets
 * back is kept in <dataDir>/agent-credential.json, mode 0600, so a restart needs no new token; with a
 * control plane that has TLS of its own, also the key it made and the client certificate issued for it,
 * used on the agent port and renewed before it runs out), then
 * heartbeats and runs its assigned replicas and trainers (remote-trainers.ts) through the control API,
 * never the database.
 * Model locations are paths as the control plane knows them: a version with a copy in the artifact store (a
 * job's output) is fetched from the control plane when this host lacks the file; any other needs the same
 * model storage mounted at the same path.
 */
export async function startRemoteAgent(
  env: Env,
  opts: {
    joinUrl: string;
    token?: string;
    nodeName?: string;
    pollMs?: number;
    heartbeatMs?: number;
    trainerPollMs?: number;
    /** How often the client certificate's remaining lifetime is checked (mutual TLS). */
    certificateCheckMs?: number;
    inventory?: () => Promise<Inventory>;
  },
) {
  const base = controlPlaneUrl(opts.joinUrl, env.ENCLAVE_ALLOW_INSECURE_JOIN);
  const engineHost = await privateEngineHost(remoteEngineHost(env));
  const inventory = opts.inventory ?? (() => readInventory());
  const nodeName = opts.nodeName ?? env.ENCLAVE_NODE_NAME ?? os.hostname();
  const savedPath = path.join(env.dataDir, 'agent-credential.json');
  let saved: SavedCredential | undefined;
  try {
    const parsed = JSON.parse(fs.readFileSync(savedPath, 'utf8')) as SavedCredential;
    if (parsed.joinUrl === base.href && parsed.nodeName === nodeName) saved = parsed;
  } catch {
    // Not joined yet.
  }
  // The control plane's server certificate: the system's CAs, plus the one named for it.
  const controlCa = env.ENCLAVE_CONTROL_CA ? [readControlCa(env.ENCLAVE_CONTROL_CA)] : undefined;
  const save = (next: SavedCredential) => {
    fs.mkdirSync(env.dataDir, { recursive: true });
    // Written aside then renamed: a crash mid-write never leaves the agent without its identity.
    fs.writeFileSync(`${savedPath}.tmp`, JSON.stringify(next), { mode: 0o600 });
    fs.renameSync(`${savedPath}.tmp`, savedPath);
  };
  if (!saved || opts.token) {
    if (!opts.token) throw new Error('This agent has not joined yet: pass --token (from `enclave nodes join-token` on the control plane)');
    const inv = await inventory();
    // A certificate request always goes along (the key never leaves this host); a control plane without
    // TLS of its own ignores it.
    const { privateKeyPem } = generateRsaKey();
    const joined = await joinControlPlane(
      base,
      opts.token,
      { name: nodeName, labels: nodeLabels(env), gpus: inv.gpus, topology: inv.topology, driverVersion: inv.driverVersion ?? null, cudaVersion: inv.cudaVersion ?? null },
      { csr: createCsr(privateKeyPem, nodeName), transport: createTransport({ ca: controlCa }) },
    );
    saved = {
      joinUrl: base.href,
      nodeName: joined.nodeName,
      credential: joined.credential,
      ...(joined.tls ? { tls: { key: privateKeyPem, certificate: joined.tls.certificate, caCertificate: joined.tls.caCertificate, agentPort: joined.tls.agentPort } } : {}),
    };
    save(saved);
    log.info('agent joined the control plane', { node: joined.nodeName, control: base.origin, mutualTls: Boolean(joined.tls) });
  }
  // With mutual TLS every call after the join goes to the agent listener, with this node's certificate.
  const identity = saved;
  const apiBase = new URL(base);
  if (identity.tls) apiBase.port = String(identity.tls.agentPort);
  let transport = createTransport({ ca: controlCa, key: identity.tls?.key, cert: identity.tls?.certificate });
  const client = controlPlaneClient(apiBase, identity.credential, () => transport);

  /** Renews the client certificate once less than a third of its lifetime is left; the old one stays valid until it expires. */
  const renewIfDue = async () => {
    const current = identity.tls;
    if (!current) return;
    const cert = new X509Certificate(current.certificate);
    const from = new Date(cert.validFrom).getTime();
    const to = new Date(cert.validTo).getTime();
    if (to - Date.now() > (to - from) / 3) return;
    const { privateKeyPem } = generateRsaKey();
    const renewed = await client.renewCertificate(createCsr(privateKeyPem, identity.nodeName));
    identity.tls = { key: privateKeyPem, certificate: renewed.certificate, caCertificate: renewed.caCertificate, agentPort: renewed.agentPort };
    save(identity);
    const previous = transport;
    transport = createTransport({ ca: controlCa, key: privateKeyPem, cert: renewed.certificate });
    // Requests in flight on the old connections finish; new ones use the new certificate.
    setTimeout(() => previous.agent?.destroy(), 30_000).unref();
    log.info('agent client certificate renewed', { node: identity.nodeName, serial: renewed.serial, notAfter: renewed.notAfter });
  };
  const defaults = { threads: env.ENCLAVE_LLAMACPP_THREADS, context: env.ENCLAVE_LLAMACPP_CONTEXT, sequences: env.ENCLAVE_LLAMACPP_SEQUENCES };
  const supervisor = createReplicaSupervisor({
    store: client.store,
    dataDir: env.dataDir,
    launcherFor: (engine) => launcherFor(engine, defaults),
    host: engineHost,
    multinode: env.ENCLAVE_VLLM_MULTINODE,
    // A model this host lacks comes from the control plane's artifact store into <dataDir>/model-cache.
    prepare: modelPreparer(env.dataDir, (a) => (key) => client.openModel(a.replicaId, key)),
  });

  const trainers = createTrainerRunner({
    client: client.jobs,
    dataDir: env.dataDir,
    trainer: { python: env.ENCLAVE_TRAINER_PYTHON, override: env.ENCLAVE_TRAINER_COMMAND },
    pollMs: opts.trainerPollMs,
  });

  let stopped = false;
  const timers = new Map<string, NodeJS.Timeout>();
  const inFlight = new Map<string, Promise<void>>();
  const loop = (name: string, ms: number, task: () => Promise<unknown>) => {
    const run = (): Promise<void> => {
      const pass = task()
        .then(() => undefined)
        .catch((e) => log.warn('remote agent loop failed', { loop: name, error: errorMessage(e) }))
        .finally(() => {
          if (!stopped) timers.set(name, setTimeout(run, ms));
        });
      inFlight.set(name, pass);
      return pass;
    };
    return run;
  };
  // The first heartbeat is awaited so that a revoked credential fails the start, not a log line later.
  // Each heartbeat also carries the host's CPU, memory and disk: all the GPU page has to show for a CPU-only node.
  const beat = async () => client.heartbeat((await inventory()).gpus, await readHostStats(env.dataDir));
  await beat();
  timers.set('heartbeat', setTimeout(loop('heartbeat', opts.heartbeatMs ?? 5_000, beat), opts.heartbeatMs ?? 5_000));
  // Checked now and then on: a failed renewal is logged and tried again, while the certificate still works.
  if (identity.tls) await loop('certificate', opts.certificateCheckMs ?? 60_000, renewIfDue)();
  await loop('replicas', opts.pollMs ?? 2_000, () => supervisor.sync())();
  // Trainers report their log every second: the job page's loss chart follows at that pace.
  await loop('trainers', opts.trainerPollMs ?? 1_000, () => trainers.sync())();

  return {
    nodeName: identity.nodeName,
    /** The client certificate in use (PEM), with mutual TLS. */
    certificate: () => identity.tls?.certificate,
    supervisor,
    trainers,
    async stop() {
      stopped = true;
      for (const t of timers.values()) clearTimeout(t);
      await Promise.all(inFlight.values());
      transport.agent?.destroy();
      // Trainers keep running (hours of work); the next agent adopts them. Replicas stop gracefully.
      trainers.release();
      await supervisor.stopAll();
    },
  };
}
