import { declaredContextTokens } from '../core/declared-context';
import { eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { deploymentGrants, deploymentReplicas, deployments, type Role } from '../db/schema';
import { userMayUse } from '../chat/model-access';
import { errorMessage, log } from '../core/log';
import { upstreamBasePath } from '../engines/upstream/base-url';
import { replicaAuthorization } from '../engines/replica-secret';
import { openUpstreamKey, sealedKeyOf } from '../engines/upstream/keys';
import { loadExperiments, type ExperimentRoute } from './experiments';
import { inService } from './replica-health';
import type { Replica, Route } from './routes';
import { isPrivateAddress } from '../core/net/private-address';
import { isIP } from 'node:net';

/**
 * An engine replica at a public IP address over plain HTTP. Engines answer HTTP with the replica's secret
 * in every request, so they are used only over TLS or at a private address (host names were resolved and
 * checked by the agent that reported them).
 */
function exposedEngine(url: URL): boolean {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return url.protocol === 'http:' && isIP(host) !== 0 && !isPrivateAddress(host);
}
const refusedExposed = new Set<string>();

export type { Replica, Route } from './routes';

/**
 * model name → deployment → ready replicas, held in memory and reloaded in the background, so routing a
 * request never waits on the database. Outstanding-request counts live on the Replica objects and are
 * carried across reloads by replica id.
 */
export function createRoutingTable(db: Db, refreshMs = 2_000, masterKey?: Buffer) {
  let routes = new Map<string, Route>();
  let routesById = new Map<string, Route>();
  let experimentsByName = new Map<string, ExperimentRoute>();
  let replicasById = new Map<string, Replica>();
  // The reload running now, and the one queued behind it for callers who asked while it ran.
  let loading: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  // Sealed upstream key → opened header value, so a reload decrypts only keys that changed.
  let openedKeys = new Map<string, string>();

  async function load(): Promise<void> {
    const deps = await db
      .select({
        id: deployments.id,
        name: deployments.name,
        status: deployments.status,
        allowedRoles: deployments.allowedRoles,
        createdAt: deployments.createdAt,
        engine: deployments.engine,
        spec: deployments.spec,
        modelVersionId: deployments.modelVersionId,
        cacheMode: deployments.cacheMode,
        cacheTtlSeconds: deployments.cacheTtlSeconds,
        firstTokenTimeoutMs: deployments.firstTokenTimeoutMs,
        requestTimeoutMs: deployments.requestTimeoutMs,
        maxRetries: deployments.maxRetries,
        retryBudgetRatio: deployments.retryBudgetRatio,
        fallbackIds: deployments.fallbackDeploymentIds,
        contextFallbackId: deployments.contextFallbackDeploymentId,
        vision: deployments.vision,
        audio: deployments.audio,
      })
      .from(deployments);
    const nextKeys = new Map<string, string>();
    const grants = new Map<string, string[]>();
    for (const g of deps.length ? await db.select({ deploymentId: deploymentGrants.deploymentId, groupId: deploymentGrants.groupId }).from(deploymentGrants) : [])
      grants.set(g.deploymentId, [...(grants.get(g.deploymentId) ?? []), g.groupId]);
    const reps = deps.length
      ? await db
          .select({ id: deploymentReplicas.id, deploymentId: deploymentReplicas.deploymentId, url: deploymentReplicas.url })
          .from(deploymentReplicas)
          .where(eq(deploymentReplicas.status, 'ready'))
      : [];
    const next = new Map<string, Route>();
    const byDeployment = new Map<string, Route>();
    for (const d of deps) {
      const route: Route = {
        deploymentId: d.id,
        name: d.name,
        status: d.status,
        allowedRoles: d.allowedRoles,
        groupIds: grants.get(d.id) ?? null,
        createdAt: d.createdAt.getTime(),
        replicas: [],
        modelVersionId: d.modelVersionId,
        contextTokens: declaredContextTokens(d.spec),
        policy: {
          cacheMode: d.cacheMode,
          cacheTtlSeconds: d.cacheTtlSeconds,
          firstTokenTimeoutMs: d.firstTokenTimeoutMs,
          requestTimeoutMs: d.requestTimeoutMs,
          maxRetries: d.maxRetries,
          retryBudgetRatio: d.retryBudgetRatio,
          fallbackIds: d.fallbackIds,
          contextFallbackId: d.contextFallbackId,
        },
        vision: d.vision,
        audio: d.audio,
      };
      if (d.engine === 'upstream') route.upstream = await upstreamRoute(d.name, d.spec, nextKeys);
      next.set(d.name, route);
      byDeployment.set(d.id, route);
    }
    const nextReplicas = new Map<string, Replica>();
    for (const r of reps) {
      const route = byDeployment.get(r.deploymentId);
      if (!route || route.status === 'stopped') continue;
      let url: URL;
      try {
        url = new URL(r.url);
      } catch {
        continue; // a replica with a broken URL cannot serve; the agent reports it elsewhere
      }
      if (!route.upstream && exposedEngine(url)) {
        // Its secret would cross another network in clear: never used (agents refuse such a host too).
        if (!refusedExposed.has(r.id)) log.error('gateway: replica not used: plain HTTP to a public address', { replica: r.id, deployment: route.name, host: url.host });
        refusedExposed.add(r.id);
        continue;
      }
      const previous = replicasById.get(r.id);
      const replica: Replica = {
        id: r.id,
        hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: Number(url.port) || (url.protocol === 'https:' ? 443 : 80),
        // An upstream row saved as .../v1 before URLs were normalised is still called once-prefixed.
        basePath: route.upstream ? upstreamBasePath(url.pathname) : url.pathname.replace(/\/+$/, ''),
        tls: url.protocol === 'https:',
        outstanding: previous?.outstanding ?? 0,
        authorization: !route.upstream && masterKey ? replicaAuthorization(masterKey, r.id) : undefined,
      };
      if (previous && previous.hostname === replica.hostname && previous.port === replica.port && previous.tls === replica.tls) {
        nextReplicas.set(r.id, previous);
        route.replicas.push(previous);
      } else {
        nextReplicas.set(r.id, replica);
        route.replicas.push(replica);
      }
    }
    // Experiments point at the routes just built, so an arm sees its deployment's current replicas.
    const nextExperiments = await loadExperiments(db, byDeployment);
    routes = next;
    routesById = byDeployment;
    experimentsByName = nextExperiments;
    replicasById = nextReplicas;
    openedKeys = nextKeys;
  }

  async function upstreamRoute(name: string, spec: Record<string, unknown>, nextKeys: Map<string, string>): Promise<Route['upstream']> {
    const model = (spec.upstream as { model?: unknown } | undefined)?.model;
    const sealed = sealedKeyOf(spec);
    let authorization: string | null = null;
    if (sealed && masterKey) {
      authorization = openedKeys.get(sealed.upstreamKeyEnc) ?? null;
      if (!authorization) {
        try {
          authorization = `Bearer ${await openUpstreamKey(db, masterKey, spec)}`;
        } catch (err) {
          // Never the key: the message names the data key and the master key's fingerprint only.
          log.error('gateway: cannot open an upstream key', { deployment: name, error: errorMessage(err) });
        }
      }
      if (authorization) nextKeys.set(sealed.upstreamKeyEnc, authorization);
    }
    return { authorization, model: typeof model === 'string' ? model : null };
  }

  /**
   * A reload that starts after this call: one already running may have read the tables before the
   * caller's last write, so the caller waits for the next one. Everyone who asks while a reload runs
   * shares that next one.
   */
  function refresh(): Promise<void> {
    if (!loading) {
      loading = load().finally(() => {
        loading = undefined;
      });
      return loading;
    }
    queued ??= loading
      .catch(() => {})
      .then(() => {
        queued = undefined;
        // A reload someone started since the last one ended is one that started after these callers asked.
        return loading ?? refresh();
      });
    return queued;
  }

  const ready = refresh();
  timer = setInterval(() => {
    // The periodic reload promises no freshness: one already running will do.
    if (!loading) refresh().catch(() => {}); // keep serving from the last good table while the database is away
  }, refreshMs);
  timer.unref();

  return {
    ready,
    refresh,
    /**
     * The route for a model. After a miss, or a hit with no ready replica (one may have just become
     * ready), the table reloads first, so new deployments and replicas are found at once.
     */
    async resolve(name: string): Promise<Route | undefined> {
      const hit = routes.get(name);
      if (hit && hit.replicas.length > 0) return hit;
      // Concurrent misses share one reload; a model that stays unready costs one query per reload.
      await refresh().catch(() => {});
      return routes.get(name);
    },
    get(name: string): Route | undefined {
      return routes.get(name);
    },
    /** A deployment's route by its id (fallback chains name deployments by id). */
    byId(id: string): Route | undefined {
      return routesById.get(id);
    },
    /** The running or promoted experiment with this name (a map lookup; names never collide with deployments). */
    experiment(name: string): ExperimentRoute | undefined {
      return experimentsByName.get(name);
    },
    /** Like resolve, for an experiment name: a miss reloads first, so a just-started experiment is found at once. */
    async resolveExperiment(name: string): Promise<ExperimentRoute | undefined> {
      const hit = experimentsByName.get(name);
      if (hit) return hit;
      await refresh().catch(() => {});
      return experimentsByName.get(name);
    },
    experiments(): Iterable<ExperimentRoute> {
      return experimentsByName.values();
    },
    all(): Iterable<Route> {
      return routes.values();
    },
    close() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}

export type RoutingTable = ReturnType<typeof createRoutingTable>;

/**
 * Fewest outstanding requests among replicas not yet tried and in service (replica-health.ts: one that
 * keeps failing is set aside); ties rotate so idle replicas share the load.
 */
let rotation = 0;
export function pickReplica(replicas: readonly Replica[], tried: ReadonlySet<string> | null, now = Date.now()): Replica | undefined {
  const n = replicas.length;
  if (n === 0) return undefined;
  if (n === 1) return tried?.has(replicas[0]!.id) || !inService(replicas[0]!, now) ? undefined : replicas[0];
  const start = rotation++ % n;
  let best: Replica | undefined;
  for (let i = 0; i < n; i++) {
    const r = replicas[(start + i) % n]!;
    if (tried?.has(r.id) || !inService(r, now)) continue;
    if (!best || r.outstanding < best.outstanding) best = r;
  }
  return best;
}

/**
 * `name` is what the client asked for: a key scoped to an experiment may use it whatever arm answers.
 * A deployment granted to groups needs the caller in one of them, on top of its roles.
 */
export function mayUse(
  route: Pick<Route, 'name' | 'allowedRoles' | 'groupIds'>,
  caller: { role: Role; models: string[] | null; groups: readonly string[] },
  name = route.name,
): 'ok' | 'key_scope' | 'role' | 'group' {
  if (caller.models && !caller.models.includes(name)) return 'key_scope';
  if (route.allowedRoles && !route.allowedRoles.includes(caller.role)) return 'role';
  if (!userMayUse(null, route.groupIds ?? undefined, caller)) return 'group';
  return 'ok';
}
