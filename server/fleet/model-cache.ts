import { localModelPath, type ArtifactStore } from '../artifacts';
import type { Assignment } from './nodes/assignment-types';

/**
 * The assignment with its model location made local (see localModelPath): what the supervisor launches.
 * Assignments without an artifact (upstream, versions registered by path) are returned as they are.
 */
export function modelPreparer(dataDir: string, store: ArtifactStore) {
  return async (a: Assignment): Promise<Assignment> => {
    if (!a.modelLocation || !a.modelArtifact) return a;
    return { ...a, modelLocation: await localModelPath(dataDir, store, a.modelLocation, a.modelArtifact) };
  };
}
