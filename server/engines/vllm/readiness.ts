import type { Readiness } from '../types';

export interface ProbeResult {
  readiness: Readiness;
  /** Why it is not ready, in plain words (absent when ready). */
  reason?: string;
}

export interface ProbeOptions {
  signal?: AbortSignal;
  /** Per request: vLLM binds its port before loading weights and answers nothing until it is done. */
  timeoutMs?: number;
  /** The replica's secret: both engines guard /v1 (the model list included) and leave /health open. */
  apiKey?: string;
}

/** A GET (or the given request) with the probe's timeout; 'unreachable' when nothing answers in time. */
export async function probeFetch(url: string, opts: ProbeOptions, init: RequestInit = {}): Promise<Response | 'unreachable'> {
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? 2_000);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  try {
    return await fetch(url, { ...init, signal, headers: { ...(init.headers as Record<string, string>), ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}) } });
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    // Refused, reset or no answer in time: the server is not up yet.
    return 'unreachable';
  }
}

/**
 * Readiness of an OpenAI-compatible engine (vLLM, or Enclave's llamacpp server, which copies vLLM's
 * endpoints): /health answers 200, then /v1/models lists the served name. Nothing listening, no answer,
 * or a 503 means still loading; a server that answers but serves another model has failed.
 */
export async function probeOpenAiServer(baseUrl: string, servedName: string, opts: ProbeOptions = {}): Promise<ProbeResult> {
  const base = baseUrl.replace(/\/+$/, '');
  const health = await probeFetch(`${base}/health`, opts);
  if (health === 'unreachable') return { readiness: 'loading', reason: 'the engine does not answer yet' };
  await health.body?.cancel();
  if (health.status >= 500) return { readiness: 'loading', reason: `/health answered ${health.status}` };
  if (health.status !== 200) return { readiness: 'failed', reason: `/health answered ${health.status}: this is not an engine Enclave knows` };

  const models = await probeFetch(`${base}/v1/models`, opts);
  if (models === 'unreachable') return { readiness: 'loading', reason: '/v1/models does not answer yet' };
  if (models.status >= 500) {
    await models.body?.cancel();
    return { readiness: 'loading', reason: `/v1/models answered ${models.status}` };
  }
  if (models.status !== 200) {
    await models.body?.cancel();
    if (models.status === 401) return { readiness: 'failed', reason: 'the engine refused the replica secret (401): it was started with another one' };
    return { readiness: 'failed', reason: `/v1/models answered ${models.status}` };
  }
  let ids: string[];
  try {
    const body = (await models.json()) as { data?: { id?: unknown }[] };
    ids = (body.data ?? []).map((m) => String(m.id));
  } catch {
    return { readiness: 'failed', reason: '/v1/models did not answer a model list' };
  }
  if (ids.includes(servedName)) return { readiness: 'ready' };
  return { readiness: 'failed', reason: `the engine serves ${ids.map((i) => `'${i}'`).join(', ') || 'no model'}, not '${servedName}'` };
}
