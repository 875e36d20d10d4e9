import type { DeploymentSpec } from '../deployment-spec';
import { OutboundRefused, type OutboundPolicy } from '../../security/outbound/policy';
import { outboundRequest } from '../../security/outbound/request';
import type { EngineDriver } from '../types';
import type { ProbeResult } from '../vllm/readiness';
import { upstreamBaseUrl } from './base-url';

/** The replica URL for an upstream: its base (see base-url.ts), to which the gateway appends /v1/chat/completions. */
export function upstreamReplicaUrl(spec: Pick<DeploymentSpec, 'upstream'>): string {
  if (!spec.upstream) throw new Error('an upstream deployment needs upstream.url');
  return upstreamBaseUrl(spec.upstream.url);
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
export async function checkUpstream(baseUrl: string, servedName: string, creds: UpstreamCredentials, signal?: AbortSignal, policy?: OutboundPolicy): Promise<ProbeResult> {
  let url: string;
  try {
    url = `${upstreamBaseUrl(baseUrl)}/v1/models`;
  } catch {
    return { readiness: 'failed', reason: 'the upstream URL is not a valid URL' };
  }
  let res: { status: number; body: Buffer };
  try {
    // Under the outbound policy, redirects not followed: the key goes to this origin and nowhere else.
    res = await outboundRequest(
      url,
      { headers: creds.key ? { authorization: `Bearer ${creds.key}` } : {}, timeoutMs: 10_000, maxBodyBytes: 4 * 1024 * 1024, signal },
      policy,
    );
  } catch (err) {
    if (signal?.aborted) throw err;
    if (err instanceof OutboundRefused) return { readiness: 'failed', reason: err.message };
    return { readiness: 'loading', reason: 'the upstream does not answer' };
  }
  if (res.status === 401 || res.status === 403) {
    return { readiness: 'failed', reason: creds.key ? `the upstream refused the API key (${res.status})` : `the upstream needs an API key (${res.status})` };
  }
  if (res.status >= 500) {
    return { readiness: 'loading', reason: `the upstream answered ${res.status}` };
  }
  if (res.status >= 300 && res.status < 400) return { readiness: 'failed', reason: `GET /v1/models answered a redirect (${res.status}), which is not followed: give the URL it leads to` };
  if (res.status !== 200) return { readiness: 'failed', reason: `GET /v1/models answered ${res.status}: is this an OpenAI-compatible API?` };
  const model = creds.model ?? servedName;
  let ids: string[];
  try {
    ids = ((JSON.parse(res.body.toString('utf8')) as { data?: { id?: unknown }[] }).data ?? []).map((m) => String(m.id));
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
