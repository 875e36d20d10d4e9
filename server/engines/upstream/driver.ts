import type { DeploymentSpec } from '../../lifecycle/deployment-spec';
import type { EngineDriver } from '../types';
import type { ProbeResult } from '../vllm/readiness';

/**
 * The replica URL for an upstream: its base without a trailing /v1, since the gateway appends
 * /v1/chat/completions (engines are addressed by their root, as vLLM is).
 */
export function upstreamReplicaUrl(spec: Pick<DeploymentSpec, 'upstream'>): string {
  if (!spec.upstream) throw new Error('an upstream deployment needs upstream.url');
  return spec.upstream.url.replace(/\/+$/, '').replace(/\/v1$/, '');
}

export interface UpstreamCredentials {
  key?: string | null;
  /** The model name the upstream expects; defaults to the served name. */
  model?: string;
}

/**
 * An external OpenAI-compatible endpoint is ready when GET /v1/models answers with its key and lists the
 * model. Unreachable or 5xx: not yet (a line may be down for a while); a refused key or a missing model:
 * failed, with the reason in plain words.
 */
export async function checkUpstream(baseUrl: string, servedName: string, creds: UpstreamCredentials, signal?: AbortSignal): Promise<ProbeResult> {
  const timeout = AbortSignal.timeout(10_000);
  let res: Response;
  try {
    res = await fetch(`${baseUrl.replace(/\/+$/, '')}/v1/models`, {
      headers: creds.key ? { authorization: `Bearer ${creds.key}` } : {},
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  } catch (err) {
    if (signal?.aborted) throw err;
    return { readiness: 'loading', reason: 'the upstream does not answer' };
  }
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    return { readiness: 'failed', reason: creds.key ? `the upstream refused the API key (${res.status})` : `the upstream needs an API key (${res.status})` };
  }
  if (res.status >= 500) {
    await res.body?.cancel();
    return { readiness: 'loading', reason: `the upstream answered ${res.status}` };
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    return { readiness: 'failed', reason: `GET /v1/models answered ${res.status}: is this an OpenAI-compatible API?` };
  }
  const model = creds.model ?? servedName;
  let ids: string[];
  try {
    ids = (((await res.json()) as { data?: { id?: unknown }[] }).data ?? []).map((m) => String(m.id));
  } catch {
    return { readiness: 'failed', reason: 'GET /v1/models did not answer a model list' };
  }
  return ids.includes(model) ? { readiness: 'ready' } : { readiness: 'failed', reason: `the upstream does not serve '${model}'` };
}

/** The upstream driver bound to a deployment's key and model (see keys.ts loadUpstreamKey). */
export function upstreamDriverFor(creds: UpstreamCredentials): EngineDriver {
  return {
    name: 'upstream',
    // No process: the replica is the external URL (upstreamReplicaUrl).
    command: () => null,
    probeReady: async (baseUrl, servedName, signal) => (await checkUpstream(baseUrl, servedName, creds, signal)).readiness,
    diagnose: () => null,
  };
}

/** Without a key: enough for upstreams that need none; others answer 'failed' until bound with upstreamDriverFor. */
export const upstreamDriver = upstreamDriverFor({});
