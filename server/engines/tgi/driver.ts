import type { EngineDriver } from '../types';
import { tgiCommand, tgiSpecProblems } from './command';
import { diagnoseTgiLog } from './diagnose';
import { parseTgiMetrics } from './metrics';
import { probeTgi } from './readiness';

/**
 * Hugging Face TGI on GPU hosts: `text-generation-launcher` (ENCLAVE_TGI_BIN overrides the executable).
 *
 * The "engines answer only the gateway" promise, as TGI allows it: the replica's secret reaches the
 * launcher as API_KEY (its environment, not argv), and the router then refuses the generation routes
 * (/generate, /generate_stream, /v1/chat/completions, /v1/completions, /tokenize...) without
 * `Authorization: Bearer <secret>`. What TGI leaves open: /health, /info, /metrics, /v1/models and
 * /chat_tokenize (metadata and tokenization, no generation), and it compares the header case-blind.
 * Two more limits, not hidden: the launcher hands the key to its router process on the router's command
 * line (launcher/src/main.rs), so on a host whose local users are not trusted mount /proc with
 * hidepid=2; and the router listens only on ENCLAVE_ENGINE_HOST (loopback by default), like every engine.
 * The launcher also reads every option from a variable of its name (QUANTIZE, SHARDED, DTYPE...): the
 * flags set here win, but the agent's environment reaches the engine, so keep such names out of it.
 */
export const tgiDriver: EngineDriver = {
  name: 'tgi',
  command: (launch) => tgiCommand(launch),
  probeReady: async (baseUrl, _servedName, signal, apiKey) => (await probeTgi(baseUrl, { signal, apiKey })).readiness,
  diagnose: diagnoseTgiLog,
  parseMetrics: parseTgiMetrics,
  specProblems: tgiSpecProblems,
};
