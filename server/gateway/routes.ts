/** What the gateway routes to: a model name's deployment and its ready replicas (built by routing-table.ts). */
export interface Replica {
  id: string;
  hostname: string;
  port: number;
  /** Path prefix of the engine's base URL ('' for http://host:port). */
  basePath: string;
  /** https: an upstream API reached over TLS. */
  tls?: boolean;
  /** Requests this gateway process has in flight to it; survives table refreshes. */
  outstanding: number;
  /** `Bearer <replica secret>` for engines Enclave runs (upstreams use the deployment's own key). */
  authorization?: string;
  /** Failures in a row, and until when it is set aside / being probed (ms since epoch): replica-health.ts. */
  failures?: number;
  setAsideUntil?: number;
  probeUntil?: number;
}

export interface Route {
  deploymentId: string;
  name: string;
  status: string;
  /** null: every role. */
  allowedRoles: string[] | null;
  /** Groups the deployment is granted to (deployment_grants); null: no grant, open to the roles above. */
  groupIds: string[] | null;
  createdAt: number;
  replicas: Replica[];
  /** Set for engine 'upstream': the header value that authenticates Enclave, and the model name it expects. */
  upstream?: { authorization: string | null; model: string | null };
}
