import { localModelPath, type ModelSource } from '../artifacts';
import type { Assignment } from './nodes/assignment-types';

/**
 * The assignment with its model location, and its LoRA adapters' paths, made local (see localModelPath):
 * what the supervisor launches. `sourceFor` says where a replica's artifacts are read from: the store (an
 * agent sharing the database), or the control plane, asked for that replica's artifact by key (a joined
 * agent, which holds no master key). Assignments without artifacts (upstream, versions registered by
 * path) are returned as they are.
 */
export function modelPreparer(dataDir: string, sourceFor: (a: Assignment) => ModelSource) {
  return async (a: Assignment): Promise<Assignment> => {
    if (!a.modelArtifact && !a.adapterArtifacts?.length) return a;
    const source = sourceFor(a);
    const modelLocation = a.modelLocation && a.modelArtifact ? await localModelPath(dataDir, source, a.modelLocation, a.modelArtifact) : a.modelLocation;
    if (!a.adapterArtifacts?.length) return { ...a, modelLocation };
    const local = new Map<string, string>();
    for (const x of a.adapterArtifacts) if (!local.has(x.location)) local.set(x.location, await localModelPath(dataDir, source, x.location, x.artifact));
    const adapters = (a.spec.loraAdapters as { name: string; path: string }[]).map((x) => ({ ...x, path: local.get(x.path) ?? x.path }));
    return { ...a, modelLocation, spec: { ...a.spec, loraAdapters: adapters } };
  };
}
