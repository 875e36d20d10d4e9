import type { Assignment } from '../gpu/nodes/assignments';
import type { Readiness } from '../engines/types';
import type { DetachedCommand } from './detached-process';
import { llamaCppCommand } from './llamacpp';

/** Defaults for the built-in CPU engine when a deployment's spec leaves them out (from the agent's env). */
export interface LlamaCppDefaults {
  threads: number;
  context: number;
  sequences: number;
}

/**
 * What the supervisor needs from an engine. Mirrors EngineDriver (server/engines/types.ts): when the
 * engine registry lands, `launcherFor` becomes a thin adapter over `engineDriver(engine)`.
 */
export interface EngineLauncher {
  command(assignment: Assignment, port: number, host: string): DetachedCommand | null;
  probeReady(baseUrl: string, servedName: string, signal?: AbortSignal): Promise<Readiness>;
  diagnose(logTail: string): string | null;
}

async function healthAnswers(baseUrl: string, signal?: AbortSignal): Promise<Readiness> {
  try {
    const res = await fetch(`${baseUrl}/health`, { signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(3_000)]) : AbortSignal.timeout(3_000) });
    await res.body?.cancel();
    return res.status === 200 ? 'ready' : 'loading';
  } catch {
    // Connection refused: still loading.
    return 'loading';
  }
}

const pick = (spec: Record<string, unknown>, key: keyof LlamaCppDefaults): number | undefined => {
  const nested = (spec.llamacpp as Record<string, unknown> | undefined)?.[key];
  const value = nested ?? spec[key];
  return typeof value === 'number' ? value : undefined;
};

export function llamaCppLauncher(defaults: LlamaCppDefaults): EngineLauncher {
  return {
    command(a, port, host) {
      if (!a.modelLocation) throw new Error(`deployment ${a.servedName} has no model file`);
      const cmd = llamaCppCommand({
        name: a.servedName,
        modelPath: a.modelLocation,
        threads: pick(a.spec, 'threads') ?? defaults.threads,
        context: pick(a.spec, 'context') ?? defaults.context,
        sequences: pick(a.spec, 'sequences') ?? defaults.sequences,
        port,
        host,
      });
      return { file: cmd.file, args: cmd.args, cwd: cmd.cwd };
    },
    probeReady: (baseUrl, _servedName, signal) => healthAnswers(baseUrl, signal),
    diagnose: (tail) => /Error: (.*)/.exec(tail)?.[1]?.slice(0, 500) ?? null,
  };
}

/** The launcher for an engine, or null for engines an agent does not run (upstream has no process). */
export function launcherFor(engine: Assignment['engine'], defaults: LlamaCppDefaults): EngineLauncher | null {
  if (engine === 'llamacpp') return llamaCppLauncher(defaults);
  return null;
}
