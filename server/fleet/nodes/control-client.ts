import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { pipeline } from 'node:stream/promises';
import type { TrainerInput } from '../../lifecycle/jobs/inputs';
import type { TrainerAssignment, TrainerReport } from '../../lifecycle/jobs/remote';
import type { ReplicaStore } from '../replica-supervisor';
import type { TrainerJobClient } from './remote-trainers';
import type { GpuInfo } from '../../gpu/types';
import type { HostStats } from '../host/host-stats';
import type { Assignment, ReplicaReport } from './assignments';
import type { NodeRegistration } from './register';
import type { StartupMeasurement } from '../../engines/vllm/startup-log';
import { directoryFiles } from '../../artifacts/directory';

export class JoinUrlError extends Error {}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The control plane's base URL, refusing plain http to anything but loopback unless explicitly allowed:
 * the join token and node credential travel in these requests, and TLS is the ingress's job.
 */
export function controlPlaneUrl(raw: string, allowInsecure = false): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new JoinUrlError(`${raw} is not a URL (expected https://control.example:3000)`);
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && (LOOPBACK.has(url.hostname) || allowInsecure)) return url;
  throw new JoinUrlError(
    url.protocol === 'http:'
      ? `Refusing to send a join token over plain http to ${url.host}: use https (TLS at the ingress), or set ENCLAVE_ALLOW_INSECURE_JOIN=true on a trusted network`
      : `${url.protocol} is not supported: use https`,
  );
}

/**
 * How this agent reaches the control plane: the CAs it trusts for the control plane's server certificate
 * (the system's, plus ENCLAVE_CONTROL_CA), and, once joined to a control plane that uses mutual TLS, its
 * client key and certificate. One keep-alive agent per identity: a renewed certificate gets a new one.
 */
export interface Transport {
  ca?: string[];
  key?: string;
  cert?: string;
  agent?: https.Agent;
}

export function createTransport(opts: { ca?: string[]; key?: string; cert?: string } = {}): Transport {
  const ca = opts.ca?.length ? [...tls.rootCertificates, ...opts.ca] : undefined;
  return { ca, key: opts.key, cert: opts.cert, agent: new https.Agent({ keepAlive: true, ca, key: opts.key, cert: opts.cert, minVersion: 'TLSv1.2' }) };
}

/** A TLS failure as something an operator can act on. */
function transportError(method: string, url: URL, e: NodeJS.ErrnoException, transport: Transport): Error {
  const code = e.code ?? '';
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS_CERT_ALTNAME/.test(code) && !/ALERT/.test(code)) {
    return new Error(`${method} ${url.pathname}: the control plane's certificate is not trusted (${code}): give its CA in ENCLAVE_CONTROL_CA`);
  }
  if (transport.cert && (/ALERT|SSL/.test(code) || code === 'ECONNRESET')) {
    return new Error(`${method} ${url.pathname}: the control plane refused this agent's client certificate at the TLS handshake (${code || e.message}): expired, or from another CA; join again with a new token`);
  }
  return new Error(`${method} ${url.pathname}: ${e.message}`);
}

function send(url: URL, init: { method: string; headers: Record<string, string>; body?: string; timeoutMs: number }, transport: Transport): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const secure = url.protocol === 'https:';
    const req = (secure ? https : http).request(url, {
      method: init.method,
      headers: { ...init.headers, ...(init.body !== undefined ? { 'content-length': String(Buffer.byteLength(init.body)) } : {}) },
      timeout: init.timeoutMs,
      ...(secure ? { agent: transport.agent, ca: transport.ca, key: transport.key, cert: transport.cert, minVersion: 'TLSv1.2' as const } : {}),
    });
    req.on('response', resolve);
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${init.timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => reject(transportError(init.method, url, e, transport)));
    req.end(init.body);
  });
}

async function readText(res: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function errorMessageOf(text: string): string {
  try {
    return (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? '';
  } catch {
    return '';
  }
}

async function callWith<T>(base: URL, path: string, init: { method: string; body?: unknown; credential?: string }, transport: Transport = {}): Promise<T> {
  const res = await send(
    new URL(path, base),
    {
      method: init.method,
      headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(init.credential ? { authorization: `Bearer ${init.credential}` } : {}) },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      timeoutMs: 15_000,
    },
    transport,
  );
  const text = await readText(res);
  const status = res.statusCode ?? 0;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${init.method} ${path}: ${status} (not JSON)`);
  }
  if (status < 200 || status >= 300) throw new Error(`${init.method} ${path}: ${status} ${errorMessageOf(text)}`.trim());
  return body as T;
}

/** A client certificate as the control plane issues it (at the join, or renewed). */
export interface IssuedClientCertificate {
  certificate: string;
  caCertificate: string;
  serial: string;
  notAfter: string;
  agentPort: number;
}

export async function joinControlPlane(
  base: URL,
  token: string,
  node: NodeRegistration,
  opts: { csr?: string; transport?: Transport } = {},
): Promise<{ nodeName: string; credential: string; tls?: IssuedClientCertificate }> {
  return callWith(base, '/api/agent/join', { method: 'POST', body: { token, node, ...(opts.csr ? { csr: opts.csr } : {}) } }, opts.transport);
}

/**
 * A remote agent's view of the control plane, authenticated with its node credential (and, with mutual
 * TLS, the client certificate of `transport()`, read per call so a renewed certificate applies at once).
 */
export function controlPlaneClient(base: URL, credential: string, transport: () => Transport = () => ({})) {
  const call = <T>(b: URL, path: string, init: { method: string; body?: unknown; credential?: string }) => callWith<T>(b, path, init, transport());
  return {
    renewCertificate: (csr: string) => call<IssuedClientCertificate>(base, '/api/agent/certificate', { method: 'POST', body: { csr }, credential }),
    heartbeat: (gpus: GpuInfo[], host?: HostStats) => call<{ ok: true }>(base, '/api/agent/heartbeat', { method: 'POST', body: { gpus, ...(host ? { host } : {}) }, credential }).then(() => undefined),
    store: {
      assignments: async () => (await call<{ assignments: Assignment[] }>(base, '/api/agent/assignments', { method: 'GET', credential })).assignments,
      report: (replicaId: string, report: ReplicaReport) => call(base, `/api/agent/replicas/${replicaId}`, { method: 'POST', body: report, credential }).then(() => undefined),
      recordStart: (replicaId: string, measured: StartupMeasurement) =>
        call(base, `/api/agent/replicas/${replicaId}/start-measurement`, { method: 'POST', body: measured, credential }).then(() => undefined),
    } satisfies ReplicaStore,
    /** The plaintext model of a replica of this node (or one of its artifacts, by key), streamed from the control plane's artifact store. */
    openModel: (replicaId: string, key?: string) => {
      const url = new URL(`/api/agent/replicas/${replicaId}/model`, base);
      if (key) url.searchParams.set('key', key);
      return openStream(url, credential, transport());
    },
    jobs: {
      assignments: async () => (await call<{ jobs: TrainerAssignment[] }>(base, '/api/agent/jobs', { method: 'GET', credential })).jobs,
      report: (jobId: string, report: TrainerReport) => call<{ offset: number; cancel: boolean }>(base, `/api/agent/jobs/${jobId}/report`, { method: 'POST', body: report, credential }),
      download: (jobId: string, input: TrainerInput, outPath: string) => download(new URL(`/api/agent/jobs/${jobId}/input/${input}`, base), credential, outPath, transport()),
      uploadOutput: (jobId: string, attempt: number, kind: string, dir: string) => uploadDirectory(base, credential, transport(), { jobId, attempt, kind, dir }),
      openBase: (jobId: string, key: string) => {
        const url = new URL(`/api/agent/jobs/${jobId}/base`, base);
        url.searchParams.set('key', key);
        return openStream(url, credential, transport());
      },
    } satisfies TrainerJobClient,
  };
}

/**
 * A trainer's output directory to the control plane, which seals it into the artifact store: each file
 * streamed in its own request (its size declared, so a cut upload is refused), then the list, which the
 * control plane checks against what it stored and makes the directory's index. Resolves the index's key.
 */
async function uploadDirectory(base: URL, credential: string, transport: Transport, o: { jobId: string; attempt: number; kind: string; dir: string }): Promise<string> {
  const files: unknown[] = [];
  for (const rel of directoryFiles(o.dir)) {
    const url = new URL(`/api/agent/jobs/${o.jobId}/outputs/${o.kind}/file`, base);
    url.searchParams.set('attempt', String(o.attempt));
    url.searchParams.set('path', rel);
    const res = await sendFile(url, credential, path.join(o.dir, rel), transport);
    const text = await readText(res);
    if (res.statusCode !== 200) throw new Error(`POST ${url.pathname}: ${res.statusCode} ${errorMessageOf(text)}`.trim());
    files.push(JSON.parse(text));
  }
  const { key } = await callWith<{ key: string }>(base, `/api/agent/jobs/${o.jobId}/outputs/${o.kind}`, { method: 'POST', body: { attempt: o.attempt, files }, credential }, transport);
  return key;
}

function sendFile(url: URL, credential: string, file: string, transport: Transport): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const secure = url.protocol === 'https:';
    const req = (secure ? https : http).request(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/octet-stream', 'content-length': String(fs.statSync(file).size) },
      // Large files take their time: a long idle allowance, no total limit.
      timeout: 30 * 60_000,
      ...(secure ? { agent: transport.agent, ca: transport.ca, key: transport.key, cert: transport.cert, minVersion: 'TLSv1.2' as const } : {}),
    });
    req.on('response', resolve);
    req.on('timeout', () => req.destroy(Object.assign(new Error('no answer within 30 min'), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => reject(transportError('POST', url, e, transport)));
    fs.createReadStream(file)
      .on('error', (e) => req.destroy(e))
      .pipe(req);
  });
}

/** A download's body as a stream (large models take their time: a long idle allowance, no total limit). */
async function openStream(url: URL, credential: string, transport: Transport): Promise<http.IncomingMessage> {
  const res = await send(url, { method: 'GET', headers: { authorization: `Bearer ${credential}` }, timeoutMs: 30 * 60_000 }, transport);
  const status = res.statusCode ?? 0;
  if (status !== 200) throw new Error(`GET ${url.pathname}: ${status} ${errorMessageOf(await readText(res))}`.trim());
  return res;
}

/** A job input streamed to a private file; its row count comes in a header. Large inputs take their time. */
async function download(url: URL, credential: string, outPath: string, transport: Transport): Promise<number> {
  const res = await send(url, { method: 'GET', headers: { authorization: `Bearer ${credential}` }, timeoutMs: 30 * 60_000 }, transport);
  const status = res.statusCode ?? 0;
  if (status !== 200) throw new Error(`GET ${url.pathname}: ${status} ${errorMessageOf(await readText(res))}`.trim());
  await pipeline(res, fs.createWriteStream(outPath, { mode: 0o600 }));
  return Number(res.headers['x-enclave-rows'] ?? 0);
}
