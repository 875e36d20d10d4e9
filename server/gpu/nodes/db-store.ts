import type { Db } from '../../db/client';
import type { ReplicaStore } from '../../runtime/replica-supervisor';
import { listAssignments, reportReplica } from './assignments';

/** The local agent's store: straight to PostgreSQL, scoped to its node. */
export function dbReplicaStore(db: Db, nodeName: string, opts: { afterReport?: (deploymentId: string) => Promise<void> } = {}): ReplicaStore {
  return {
    assignments: () => listAssignments(db, nodeName),
    report: async (replicaId, report) => {
      const deploymentId = await reportReplica(db, nodeName, replicaId, report);
      if (deploymentId && opts.afterReport) await opts.afterReport(deploymentId);
    },
  };
}
