import { probeFetch, type ProbeOptions, type ProbeResult } from '../vllm/readiness';

/**
 * Readiness of a TGI router: nothing listens until every shard has loaded and warmed up (the launcher
 * starts the router last), then GET /health answers 200 (503 {"error":"unhealthy"} while a shard is
 * down) and GET /info names the model. TGI serves one model and ignores the request's `model`, so the
 * served name is not checked; the replica secret is: POST /tokenize sits behind --api-key like the
 * generation routes (router/src/server.rs), so a 401 there means the router was started with another key.
 */
export async function probeTgi(baseUrl: string, opts: ProbeOptions = {}): Promise<ProbeResult> {
  const base = baseUrl.replace(/\/+$/, '');
  const health = await probeFetch(`${base}/health`, opts);
  if (health === 'unreachable') return { readiness: 'loading', reason: 'the router does not answer yet (shards loading or warming up)' };
  await health.body?.cancel();
  if (health.status >= 500) return { readiness: 'loading', reason: `/health answered ${health.status}` };
  if (health.status !== 200) return { readiness: 'failed', reason: `/health answered ${health.status}: this is not an engine Enclave knows` };

  const info = await probeFetch(`${base}/info`, { ...opts, apiKey: undefined });
  if (info === 'unreachable') return { readiness: 'loading', reason: '/info does not answer yet' };
  let modelId: unknown;
  try {
    modelId = info.status === 200 ? ((await info.json()) as { model_id?: unknown }).model_id : undefined;
  } catch {
    modelId = undefined;
  }
  if (typeof modelId !== 'string') {
    await info.body?.cancel().catch(() => {});
    return { readiness: 'failed', reason: `/info answered ${info.status} without a model_id: this is not a TGI router` };
  }

  const tokenize = await probeFetch(`${base}/tokenize`, opts, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"inputs":"ping"}' });
  if (tokenize === 'unreachable') return { readiness: 'loading', reason: '/tokenize does not answer yet' };
  await tokenize.body?.cancel();
  if (tokenize.status === 401) return { readiness: 'failed', reason: 'the engine refused the replica secret (401): it was started with another one' };
  return { readiness: 'ready' };
}
