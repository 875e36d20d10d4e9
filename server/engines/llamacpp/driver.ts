import { createRequire } from 'node:module';
import { env } from '../../core/env';
import { llamaCppCommand } from './process';
import type { EngineDriver } from '../types';
import { probeOpenAiServer } from '../vllm/readiness';

// node --import needs tsx by path: the reconciler may start the process from any working directory.
const TSX_LOADER = createRequire(import.meta.url).resolve('tsx');

export interface LlamaCppDefaults {
  threads: number;
  context: number;
  sequences: number;
}

const DIAGNOSES: [RegExp, (m: RegExpMatchArray) => string][] = [
  [/ENOENT: no such file or directory, open '([^']+)'/, (m) => `The model file ${m[1]} does not exist on this node.`],
  [/Invalid GGUF magic/, () => 'The model file is not a GGUF file; the llamacpp engine serves GGUF models only (use vllm for Hugging Face checkpoints).'],
  [/llamacpp engine: (--\S+ must be .*)/, (m) => `The engine refused its settings: ${m[1]}.`],
  [/EADDRINUSE/, () => 'The port chosen for the replica was already taken; the next start picks another.'],
];

/**
 * Enclave's built-in CPU engine behind the same interface as vLLM. CPU only: the placement's GPU indices
 * are ignored. Threads, context and sequences come from spec.llamacpp, else the ENCLAVE_LLAMACPP_* settings.
 */
export function createLlamaCppDriver(defaults: () => LlamaCppDefaults = envDefaults): EngineDriver {
  return {
    name: 'llamacpp',
    command(launch) {
      const d = defaults();
      const own = launch.spec.llamacpp ?? {};
      const cmd = llamaCppCommand({
        name: launch.servedName,
        modelPath: launch.modelLocation,
        host: launch.host,
        port: launch.port,
        threads: own.threads ?? d.threads,
        context: own.context ?? d.context,
        sequences: own.sequences ?? d.sequences,
        apiKey: launch.apiKey,
      });
      const args = cmd.args.map((a, i) => (a === 'tsx' && cmd.args[i - 1] === '--import' ? TSX_LOADER : a));
      return { file: cmd.file, args, env: cmd.env ?? {} };
    },
    probeReady: async (baseUrl, servedName, signal, apiKey) => (await probeOpenAiServer(baseUrl, servedName, { signal, apiKey })).readiness,
    diagnose(logTail) {
      for (const [pattern, explain] of DIAGNOSES) {
        const m = logTail.match(pattern);
        if (m) return explain(m);
      }
      return null;
    },
  };
}

function envDefaults(): LlamaCppDefaults {
  const e = env();
  return { threads: e.ENCLAVE_LLAMACPP_THREADS, context: e.ENCLAVE_LLAMACPP_CONTEXT, sequences: e.ENCLAVE_LLAMACPP_SEQUENCES };
}

export const llamaCppDriver = createLlamaCppDriver();
