import fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TrainerInput } from '../../lifecycle/jobs/inputs';
import type { TrainerAssignment, TrainerReport } from '../../lifecycle/jobs/remote';
import type { ReplicaStore } from '../replica-supervisor';
import type { TrainerJobClient } from './remote-trainers';
import type { GpuInfo } from '../../gpu/types';
import type { Assignment, ReplicaReport } from './assignments';
import type { NodeRegistration } from './register';
import type { StartupMeasurement } from '../../engines/vllm/startup-log';

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

async function call<T>(base: URL, path: string, init: { method: string; body?: unknown; credential?: string }): Promise<T> {
  const res = await fetch(new URL(path, base), {
    method: init.method,
    headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(init.credential ? { authorization: `Bearer ${init.credential}` } : {}) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let body: { error?: { message?: string } } & Record<string, unknown>;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${init.method} ${path}: ${res.status} (not JSON)`);
  }
  if (!res.ok) throw new Error(`${init.method} ${path}: ${res.status} ${body.error?.message ?? ''}`.trim());
  return body as T;
}

export async function joinControlPlane(base: URL, token: string, node: NodeRegistration): Promise<{ nodeName: string; credential: string }> {
  return call(base, '/api/agent/join', { method: 'POST', body: { token, node } });
}

/** A remote agent's view of the control plane, authenticated with its node credential. */
export function controlPlaneClient(base: URL, credential: string) {
  return {
    heartbeat: (gpus: GpuInfo[]) => call<{ ok: true }>(base, '/api/agent/heartbeat', { method: 'POST', body: { gpus }, credential }).then(() => undefined),
    store: {
      assignments: async () => (await call<{ assignments: Assignment[] }>(base, '/api/agent/assignments', { method: 'GET', credential })).assignments,
      report: (replicaId: string, report: ReplicaReport) => call(base, `/api/agent/replicas/${replicaId}`, { method: 'POST', body: report, credential }).then(() => undefined),
      recordStart: (replicaId: string, measured: StartupMeasurement) =>
        call(base, `/api/agent/replicas/${replicaId}/start-measurement`, { method: 'POST', body: measured, credential }).then(() => undefined),
    } satisfies ReplicaStore,
    jobs: {
      assignments: async () => (await call<{ jobs: TrainerAssignment[] }>(base, '/api/agent/jobs', { method: 'GET', credential })).jobs,
      report: (jobId: string, report: TrainerReport) => call<{ offset: number; cancel: boolean }>(base, `/api/agent/jobs/${jobId}/report`, { method: 'POST', body: report, credential }),
      download: (jobId: string, input: TrainerInput, outPath: string) => download(new URL(`/api/agent/jobs/${jobId}/input/${input}`, base), credential, outPath),
    } satisfies TrainerJobClient,
  };
}

/** A job input streamed to a private file; its row count comes in a header. Large inputs take their time. */
async function download(url: URL, credential: string, outPath: string): Promise<number> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${credential}` }, signal: AbortSignal.timeout(30 * 60_000) });
  if (!res.ok || !res.body) {
    const text = await res.text().catch(() => '');
    let message = '';
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? '';
    } catch {
      // not JSON
    }
    throw new Error(`GET ${url.pathname}: ${res.status} ${message}`.trim());
  }
  await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), fs.createWriteStream(outPath, { mode: 0o600 }));
  return Number(res.headers.get('x-enclave-rows') ?? 0);
}
