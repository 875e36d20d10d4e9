import { deploymentSpecSchema } from '../deployment-spec';
import type { LaunchRequest } from '../types';

/** A placed replica's launch request for driver tests: the spec parsed as the API would, the rest fixed. */
export function testLaunch(engine: string, spec: Record<string, unknown>, gpuIndices = [0], over: Partial<LaunchRequest> = {}): LaunchRequest {
  return {
    deploymentId: 'd1',
    replicaId: 'r1',
    servedName: 'qwen-7b',
    modelLocation: '/models/Qwen2.5-7B-Instruct',
    spec: deploymentSpecSchema.parse({ engine, ...spec }),
    gpuIndices,
    host: '127.0.0.1',
    port: 41000,
    apiKey: 'enc-replica-secret-r1',
    ...over,
  };
}
