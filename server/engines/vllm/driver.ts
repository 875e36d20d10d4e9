import type { EngineDriver } from '../types';
import { vllmCommand, vllmSpecProblems } from './command';
import { diagnoseVllmLog } from './diagnose';
import { parseVllmMetrics } from './metrics';
import { probeOpenAiServer } from './readiness';

/** vLLM on GPU hosts: `vllm serve` (ENCLAVE_VLLM_BIN overrides the executable), readiness, log diagnosis. */
export const vllmDriver: EngineDriver = {
  name: 'vllm',
  command: (launch) => vllmCommand(launch),
  probeReady: async (baseUrl, servedName, signal, apiKey) => (await probeOpenAiServer(baseUrl, servedName, { signal, apiKey })).readiness,
  diagnose: diagnoseVllmLog,
  parseMetrics: parseVllmMetrics,
  specProblems: vllmSpecProblems,
};
