import { localModelPath, type ModelSource } from '../artifacts';
import type { Assignment } from './nodes/assignment-types';

/**
 * The assignment with its model location made local (see localModelPath): what the supervisor launches.
 * `sourceFor` says where a replica's model is read from: the store (an agent sharing the database), or
 * the control plane, asked for that replica's model (a joined agent, which holds no master key).
 * Assignments without an artifact (upstream, versions registered by path) are returned as they are.
 */
export function modelPreparer(dataDir: string, sourceFor: (a: Assignment) => ModelSource) {
  return async (a: Assignment): Promise<Assignment> => {
    if (!a.modelLocation || !a.modelArtifact) return a;
    return { ...a, modelLocation: await localModelPath(dataDir, sourceFor(a), a.modelLocation, a.modelArtifact) };
  };
}
