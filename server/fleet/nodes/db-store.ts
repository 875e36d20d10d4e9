import type { Db } from '../../db/client';
import type { ReplicaStore } from '../replica-supervisor';
import { listAssignments, reportReplica } from './assignments';
import { recordStartMeasurement } from '../../gpu/placement/start-measurements';

/** The local agent's store: straight to PostgreSQL, scoped to its node. Deployment status is the reconciler's. */
export function dbReplicaStore(db: Db, nodeName: string, masterKey: Buffer): ReplicaStore {
  return {
    assignments: () => listAssignments(db, nodeName, masterKey),
    report: async (replicaId, report) => {
      await reportReplica(db, nodeName, replicaId, report);
    },
    recordStart: async (replicaId, measured) => {
      await recordStartMeasurement(db, nodeName, replicaId, measured);
    },
  };
}
