import type { Assignment } from './nodes/assignments';
import { createLlamaCppDriver, type LlamaCppDefaults } from '../engines/llamacpp/driver';
import { engineDriver } from '../engines/registry';
import type { EngineDriver, GroupLaunch, Readiness } from '../engines/types';
import { storedSpec } from '../engines/stored-spec';
import type { DetachedCommand } from '../process/detached-process';

export type { LlamaCppDefaults };

/** What the supervisor needs from an engine: its driver, fed from an assignment. */
export interface EngineLauncher {
  /** The engine gets the assignment's secret (its environment, not its command line) and requires it on /v1. */
  command(assignment: Assignment, port: number, host: string, group?: GroupLaunch): DetachedCommand | null;
  /** Ready only when the engine lists the model to a caller holding `apiKey`, the replica's secret. */
  probeReady(baseUrl: string, servedName: string, apiKey: string, signal?: AbortSignal): Promise<Readiness>;
  diagnose(logTail: string): string | null;
}

function fromDriver(driver: EngineDriver): EngineLauncher {
  return {
    command(a, port, host, group) {
      if (!a.modelLocation) throw new Error(`deployment ${a.servedName} has no model version to run`);
      if (a.group && !group) throw new Error(`replica ${a.servedName} spans ${a.group.nodes} hosts but no group launch was given`);
      if (group && driver.name !== 'vllm') throw new Error(`${driver.name} cannot run one replica across hosts; only vLLM can`);
      const worker = group !== undefined && group.rank > 0;
      // Never an engine open to anyone: a control plane too old to send secrets gets no engine at all.
      // A group's worker serves no API, so it has (and needs) no secret.
      if (!a.secret && !worker) throw new Error(`the assignment of ${a.servedName} carries no replica secret (is the control plane older than this agent?)`);
      const stored = storedSpec({ engine: a.engine, spec: a.spec, desiredReplicas: 1 });
      // "Auto" TP means the planner chose it: the replica's GPUs on this node are TP x PP of them, or,
      // across hosts, TP of them (one pipeline stage per host).
      const perNode = group ? 1 : stored.pp;
      const spec =
        stored.tp === undefined && a.gpuIndices.length > 0 ? { ...stored, tp: Math.max(1, Math.floor(a.gpuIndices.length / perNode)) } : stored;
      return driver.command({
        deploymentId: a.deploymentId,
        replicaId: a.replicaId,
        servedName: a.servedName,
        modelLocation: a.modelLocation,
        spec,
        gpuIndices: a.gpuIndices,
        host,
        port,
        apiKey: worker ? '' : a.secret,
        group,
      });
    },
    probeReady: (baseUrl, servedName, apiKey, signal) => driver.probeReady(baseUrl, servedName, signal, apiKey),
    diagnose: (tail) => driver.diagnose(tail),
  };
}

/**
 * The launcher for an engine, or null for engines an agent runs no process for (upstream). llamacpp
 * takes its defaults from the agent's own settings, which on a remote host may differ from the control plane's.
 */
export function launcherFor(engine: Assignment['engine'], defaults: LlamaCppDefaults): EngineLauncher | null {
  if (engine === 'upstream') return null;
  return fromDriver(engine === 'llamacpp' ? createLlamaCppDriver(() => defaults) : engineDriver(engine));
}
