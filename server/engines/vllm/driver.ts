import type { EngineDriver } from '../types';
import { vllmCommand } from './command';
import { diagnoseVllmLog } from './diagnose';
import { probeOpenAiServer } from './readiness';

/** vLLM on GPU hosts: `vllm serve` (ENCLAVE_VLLM_BIN overrides the executable), readiness, log diagnosis. */
export const vllmDriver: EngineDriver = {
  name: 'vllm',
  command: (launch) => vllmCommand(launch),
  probeReady: async (baseUrl, servedName, signal) => (await probeOpenAiServer(baseUrl, servedName, { signal })).readiness,
  diagnose: diagnoseVllmLog,
};
