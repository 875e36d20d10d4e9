import { createHmac } from 'node:crypto';

/**
 * The secret one engine replica requires on its OpenAI API (vLLM's --api-key, the same on the built-in
 * engine), so no local process can reach a model around the gateway's keys, quotas and logs. Derived
 * from the master key and the replica id: the control plane, the gateway and a local agent compute it
 * without storing anything, each replica has its own, and a remote agent (which holds no master key)
 * receives only its own replicas' secrets, with their assignments. A new master key gives new secrets:
 * engines started under the old one are replaced (see the supervisor).
 */
export function replicaSecret(masterKey: Buffer, replicaId: string): string {
  return 'enc-replica-' + createHmac('sha256', masterKey).update(`enclave-replica-v1:${replicaId}`).digest('base64url');
}

/** The Authorization header value that opens one replica. */
export function replicaAuthorization(masterKey: Buffer, replicaId: string): string {
  return `Bearer ${replicaSecret(masterKey, replicaId)}`;
}

/**
 * The variable a replica's secret reaches its engine through: never a flag, since every local user can
 * read a process's command line (/proc/PID/cmdline) but only its owner its environment. vLLM reads it as
 * --api-key's default; the built-in engine reads the same name, so both behave alike.
 */
export const ENGINE_API_KEY_ENV = 'VLLM_API_KEY';
