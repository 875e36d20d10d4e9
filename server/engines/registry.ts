import type { EngineName } from '../db/schema';
import { llamaCppDriver } from './llamacpp/driver';
import type { EngineDriver } from './types';
import { upstreamDriver } from './upstream/driver';
import { vllmDriver } from './vllm/driver';

const DRIVERS: Record<EngineName, EngineDriver> = {
  llamacpp: llamaCppDriver,
  vllm: vllmDriver,
  upstream: upstreamDriver,
};

/** The driver for an engine name; an unknown name is a programming error (the spec schema admits only these). */
export function engineDriver(name: EngineName): EngineDriver {
  const driver = DRIVERS[name];
  if (!driver) throw new Error(`unknown engine '${String(name)}'`);
  return driver;
}
