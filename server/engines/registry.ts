import type { EngineName } from '../db/schema';
import { llamaCppDriver } from './llamacpp/driver';
import { fetchMetricsText } from './prometheus';
import { sglangDriver } from './sglang/driver';
import { tgiDriver } from './tgi/driver';
import type { EngineDriver, EngineLoad } from './types';
import { upstreamDriver } from './upstream/driver';
import { vllmDriver } from './vllm/driver';
import { parseVllmMetrics } from './vllm/metrics';

const DRIVERS: Record<EngineName, EngineDriver> = {
  llamacpp: llamaCppDriver,
  vllm: vllmDriver,
  tgi: tgiDriver,
  sglang: sglangDriver,
  upstream: upstreamDriver,
};

/** The driver for an engine name; an unknown name is a programming error (the spec schema admits only these). */
export function engineDriver(name: EngineName): EngineDriver {
  const driver = DRIVERS[name];
  if (!driver) throw new Error(`unknown engine '${String(name)}'`);
  return driver;
}

/** One replica's load from its /metrics, read with its engine's metric names (llamacpp speaks vLLM's). */
export async function scrapeEngineLoad(engine: EngineName, baseUrl: string, signal?: AbortSignal): Promise<EngineLoad> {
  const parse = engineDriver(engine).parseMetrics ?? parseVllmMetrics;
  return parse(await fetchMetricsText(baseUrl, signal));
}
