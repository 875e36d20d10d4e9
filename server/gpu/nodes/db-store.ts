import type { Db } from '../../db/client';
import type { ReplicaStore } from '../../runtime/replica-supervisor';
import { listAssignments, reportReplica } from './assignments';

/** The local agent's store: straight to PostgreSQL, scoped to its node. Deployment status is the reconciler's. */
export function dbReplicaStore(db: Db, nodeName: string): ReplicaStore {
  return {
    assignments: () => listAssignments(db, nodeName),
    report: async (replicaId, report) => {
      await reportReplica(db, nodeName, replicaId, report);
    },
  };
}
