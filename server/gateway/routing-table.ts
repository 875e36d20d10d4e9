import { eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { deploymentReplicas, deployments } from '../db/schema';
import { openUpstreamKey, sealedKeyOf } from '../engines/upstream/keys';
import { loadExperiments, type ExperimentRoute } from './experiments';

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
}

export interface Route {
  deploymentId: string;
  name: string;
  status: string;
  /** null: every role. */
  allowedRoles: string[] | null;
  createdAt: number;
  replicas: Replica[];
  /** Set for engine 'upstream': the header value that authenticates Enclave, and the model name it expects. */
  upstream?: { authorization: string | null; model: string | null };
}

/**
 * model name → deployment → ready replicas, held in memory and reloaded in the background, so routing a
 * request never waits on the database. Outstanding-request counts live on the Replica objects and are
 * carried across reloads by replica id.
 */
export function createRoutingTable(db: Db, refreshMs = 2_000, masterKey?: Buffer) {
  let routes = new Map<string, Route>();
  let experimentsByName = new Map<string, ExperimentRoute>();
  let replicasById = new Map<string, Replica>();
  let loading: Promise<void> | undefined;
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
      })
      .from(deployments);
    const nextKeys = new Map<string, string>();
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
        createdAt: d.createdAt.getTime(),
        replicas: [],
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
      const previous = replicasById.get(r.id);
      const replica: Replica = {
        id: r.id,
        hostname: url.hostname,
        port: Number(url.port) || (url.protocol === 'https:' ? 443 : 80),
        basePath: url.pathname.replace(/\/+$/, ''),
        tls: url.protocol === 'https:',
        outstanding: previous?.outstanding ?? 0,
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
          console.error(`gateway: cannot open the upstream key of '${name}': ${(err as Error).message}`);
        }
      }
      if (authorization) nextKeys.set(sealed.upstreamKeyEnc, authorization);
    }
    return { authorization, model: typeof model === 'string' ? model : null };
  }

  function refresh(): Promise<void> {
    loading ??= load().finally(() => {
      loading = undefined;
    });
    return loading;
  }

  const ready = refresh();
  timer = setInterval(() => {
    refresh().catch(() => {}); // keep serving from the last good table while the database is away
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

/** Fewest outstanding requests among replicas not yet tried; ties rotate so idle replicas share the load. */
let rotation = 0;
export function pickReplica(replicas: readonly Replica[], tried: ReadonlySet<string> | null): Replica | undefined {
  const n = replicas.length;
  if (n === 0) return undefined;
  if (n === 1) return tried?.has(replicas[0]!.id) ? undefined : replicas[0];
  const start = rotation++ % n;
  let best: Replica | undefined;
  for (let i = 0; i < n; i++) {
    const r = replicas[(start + i) % n]!;
    if (tried?.has(r.id)) continue;
    if (!best || r.outstanding < best.outstanding) best = r;
  }
  return best;
}

/** `name` is what the client asked for: a key scoped to an experiment may use it whatever arm answers. */
export function mayUse(route: Route, caller: { role: string; models: string[] | null }, name = route.name): 'ok' | 'key_scope' | 'role' {
  if (caller.models && !caller.models.includes(name)) return 'key_scope';
  if (route.allowedRoles && !route.allowedRoles.includes(caller.role)) return 'role';
  return 'ok';
}
