import type { EngineDriver } from '../types';
import { probeOpenAiServer } from '../vllm/readiness';
import { sglangCommand, sglangSpecProblems } from './command';
import { diagnoseSglangLog } from './diagnose';
import { parseSglangMetrics } from './metrics';

/**
 * SGLang on GPU hosts: `python3 -m sglang.launch_server` (ENCLAVE_SGLANG_PYTHON names the Python).
 * Readiness is vLLM's: SGLang answers /health 200 once its warm-up is done, and its /v1/models, behind
 * --api-key like every route but /health and /metrics, lists the served name to a caller with the secret.
 */
export const sglangDriver: EngineDriver = {
  name: 'sglang',
  command: (launch) => sglangCommand(launch),
  probeReady: async (baseUrl, servedName, signal, apiKey) => (await probeOpenAiServer(baseUrl, servedName, { signal, apiKey })).readiness,
  diagnose: diagnoseSglangLog,
  parseMetrics: parseSglangMetrics,
  specProblems: sglangSpecProblems,
};
