import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENGINE_API_KEY_ENV } from '../replica-secret';
import { spawnEngineProcess, type EngineCommand } from '../../process/engine-process';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const engineMain = path.join(repoRoot, 'server/engines/llamacpp/main.ts');

/** What one llamacpp engine process serves, and with how much of the CPU. */
export type LlamaCppSpec = {
  name: string;
  modelPath: string;
  threads?: number;
  context?: number;
  sequences?: number;
  /** 0 (the default) lets the engine pick a free port. */
  port?: number;
  host?: string;
  /** Required on /v1 as `Authorization: Bearer <apiKey>`; none: the API is open (tests and benchmarks only). */
  apiKey?: string;
  startTimeoutMs?: number;
};

/** The `node --import tsx main.ts ...` command for a spec; run from the repository root so tsx resolves. */
export function llamaCppCommand(spec: LlamaCppSpec): EngineCommand {
  const host = spec.host ?? '127.0.0.1';
  return {
    file: process.execPath,
    args: [
      '--import',
      'tsx',
      engineMain,
      '--model',
      path.resolve(spec.modelPath),
      '--name',
      spec.name,
      '--port',
      String(spec.port ?? 0),
      '--host',
      host,
      '--threads',
      String(spec.threads ?? 1),
      '--context',
      String(spec.context ?? 2048),
      '--sequences',
      String(spec.sequences ?? 4),
    ],
    cwd: repoRoot,
    env: spec.apiKey ? { [ENGINE_API_KEY_ENV]: spec.apiKey } : undefined,
    host,
    startTimeoutMs: spec.startTimeoutMs,
  };
}

/** One unsupervised engine, for tests and benchmarks: started, healthy, and stopped by the caller. */
export async function startLlamaCppEngine(spec: LlamaCppSpec) {
  const engine = await spawnEngineProcess(llamaCppCommand(spec));
  return {
    url: engine.url,
    port: engine.port,
    pid: engine.pid,
    exited: engine.exited,
    logs: () => engine.logs.last(),
    stop: (graceMs?: number) => engine.stop(graceMs),
  };
}

export type StartedLlamaCppEngine = Awaited<ReturnType<typeof startLlamaCppEngine>>;
