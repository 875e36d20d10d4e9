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
  /** The model version it serves (part of a cached answer's key: a new version never serves the old's answers). */
  modelVersionId: string | null;
  /** The context its spec declares (tokens), for callers who opt in to fitting (x-enclave-context); undefined: unknown. */
  contextTokens?: number;
  /** How the gateway handles its requests (columns of deployments, migration 0024). */
  policy: RoutePolicy;
  /** Takes image content parts (migration 0031); absent or false: images are refused with a 400. */
  vision?: boolean;
  /** Serves /v1/audio/transcriptions and /v1/audio/speech (migration 0031). */
  audio?: boolean;
}

export interface RoutePolicy {
  /** Response cache: only deterministic requests (temperature 0 or a seed), every request, or none. */
  cacheMode: 'off' | 'deterministic' | 'all';
  cacheTtlSeconds: number;
  /** null: the gateway's GATEWAY_FIRST_TOKEN_TIMEOUT_MS / GATEWAY_REQUEST_TIMEOUT_MS. */
  firstTokenTimeoutMs: number | null;
  requestTimeoutMs: number | null;
  /** Retries on other replicas per request; null: each replica once. */
  maxRetries: number | null;
  /** Retries may be at most this fraction of the deployment's recent requests; null: no such cap. */
  retryBudgetRatio: number | null;
  /** Deployment ids tried in order when every replica failed before the answer began. */
  fallbackIds: string[];
  /** Deployment id for prompts that do not fit this one's context. */
  contextFallbackId: string | null;
}

/** Today's behaviour: what a deployment gets with none of its gateway settings changed. */
export const DEFAULT_POLICY: RoutePolicy = {
  cacheMode: 'deterministic',
  cacheTtlSeconds: 3600,
  firstTokenTimeoutMs: null,
  requestTimeoutMs: null,
  maxRetries: null,
  retryBudgetRatio: null,
  fallbackIds: [],
  contextFallbackId: null,
};
