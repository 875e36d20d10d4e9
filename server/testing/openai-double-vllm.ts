import { createHash, timingSafeEqual } from 'node:crypto';
import type { ReplyCounters } from './openai-double-reply';

/** What a vLLM server is started with, as far as its HTTP surface shows it. */
export interface ServedModels {
  servedName: string;
  /** The model path or id vLLM was started with (`root` in /v1/models). */
  modelPath?: string;
  loraModules?: { name: string; path: string }[];
  maxModelLen?: number;
}

/** vLLM's GUARDED_PREFIX (vllm/entrypoints/openai/server_utils.py): what --api-key protects. /health and /metrics stay open. */
const GUARDED_PREFIXES = ['/v1', '/v2', '/inference', '/cohere'];

export const isGuarded = (path: string) => GUARDED_PREFIXES.some((prefix) => path.startsWith(prefix));

/** As vLLM's verify_token: scheme "bearer" in any case, then the key, compared as SHA-256 digests. */
export function bearerMatches(header: string | undefined, key: string): boolean {
  const value = header ?? '';
  const space = value.indexOf(' ');
  if (space < 0 || value.slice(0, space).toLowerCase() !== 'bearer') return false;
  return timingSafeEqual(createHash('sha256').update(value.slice(space + 1)).digest(), createHash('sha256').update(key).digest());
}

/** GET /v1/models as vLLM answers it: the served name, LoRA adapters as its children. */
export function modelList(served: ServedModels | undefined, created: number) {
  const name = served?.servedName ?? 'double';
  const base = { object: 'model', created, owned_by: 'vllm', max_model_len: served?.maxModelLen ?? 4096 };
  return {
    object: 'list',
    data: [
      { id: name, root: served?.modelPath ?? name, parent: null, ...base },
      ...(served?.loraModules ?? []).map((l) => ({ id: l.name, root: l.path, parent: name, ...base })),
    ],
  };
}

/** GET /metrics in Prometheus text with vLLM's metric names (what the agent scrapes for load). */
export function metricsText(servedName: string, c: ReplyCounters): string {
  const labels = `{engine="0",model_name="${servedName}"}`;
  const metric = (type: string, name: string, help: string, value: number) => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name}${labels} ${value.toFixed(1)}\n`;
  return (
    metric('gauge', 'vllm:num_requests_running', 'Number of requests in model execution batches.', c.active) +
    metric('gauge', 'vllm:num_requests_waiting', 'Number of requests waiting to be processed.', 0) +
    metric('gauge', 'vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', c.active ? 0.1 * c.active : 0) +
    metric('counter', 'vllm:prompt_tokens_total', 'Number of prefill tokens processed.', c.promptTokens) +
    metric('counter', 'vllm:generation_tokens_total', 'Number of generation tokens processed.', c.generationTokens)
  );
}
