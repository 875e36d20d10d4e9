import client from 'prom-client';
import { log } from '../core/log';
import { metricsRegistry } from '../core/metrics';
import type { Replica } from './routes';

/**
 * A replica that keeps failing is set aside, so requests stop paying for it: after `failures` failures in
 * a row (a connect error, a 5xx, a refused replica secret, no first token in time, a stream cut short)
 * it receives nothing for `cooldownMs`; then one request at a time probes it (another replica takes the
 * request if the probe fails, before any byte reached the client), and the first success returns it to
 * service. Counted per gateway process, on the Replica objects the routing table keeps across reloads.
 */
export interface BreakerSettings {
  failures: number;
  cooldownMs: number;
}

let setAsideCounter: client.Counter<'deployment'> | undefined;
/** enclave_gateway_replica_set_aside_total{deployment} (its id, as the latency histograms): how often replicas were set aside (registered once per process). */
function countSetAside(deployment: string) {
  const registry = metricsRegistry();
  setAsideCounter ??=
    (registry.getSingleMetric('enclave_gateway_replica_set_aside_total') as client.Counter<'deployment'> | undefined) ??
    new client.Counter({ name: 'enclave_gateway_replica_set_aside_total', help: 'Times a replica was set aside after failing requests in a row', labelNames: ['deployment'], registers: [registry] });
  setAsideCounter.inc({ deployment });
}

/** How long one probe may be in flight before another request may probe instead (the first was lost). */
export const PROBE_MS = 10_000;

/** A replica's breaker state as the deployment page shows it (published to Redis by the gateway: breaker-state.ts). */
export type BreakerChange =
  | { replicaId: string; state: 'set_aside'; until: number; failures: number }
  | { replicaId: string; state: 'probing'; until: number }
  | { replicaId: string; state: 'in_service' };

const listeners = new Set<(change: BreakerChange) => void>();
/** Hears every change of state (not every failure); returns the way to stop. */
export function onBreakerChange(listener: (change: BreakerChange) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
function announce(change: BreakerChange) {
  for (const l of listeners) l(change);
}

/** Whether a replica may take a request now (not set aside, and not already being probed). */
export function inService(r: Replica, now: number): boolean {
  if (!r.setAsideUntil) return true;
  return now >= r.setAsideUntil && now >= (r.probeUntil ?? 0);
}

/** Called when a request is sent to it: a set-aside replica past its cooldown gets this one as its probe. */
export function sending(r: Replica, now: number): void {
  if (r.setAsideUntil && now >= r.setAsideUntil) {
    r.probeUntil = now + PROBE_MS;
    announce({ replicaId: r.id, state: 'probing', until: r.probeUntil });
  }
}

/** It answered (any status below 500): it is in service again. */
export function succeeded(r: Replica): void {
  if (r.failures === 0 && !r.setAsideUntil) return;
  if (r.setAsideUntil) log.info('gateway: replica back in service', { replica: r.id });
  const wasAside = !!r.setAsideUntil;
  r.failures = 0;
  r.setAsideUntil = 0;
  r.probeUntil = 0;
  if (wasAside) announce({ replicaId: r.id, state: 'in_service' });
}

/** It failed: counted, and set aside for the cooldown at the limit (again, when a probe fails). */
export function failed(r: Replica, now: number, s: BreakerSettings, route: { name: string; deploymentId: string }): void {
  r.failures = (r.failures ?? 0) + 1;
  r.probeUntil = 0;
  if (r.failures >= s.failures) {
    if (!r.setAsideUntil) {
      log.warn('gateway: replica set aside after failing in a row', { deployment: route.name, replica: r.id, failures: r.failures, cooldownMs: s.cooldownMs });
      countSetAside(route.deploymentId);
    }
    r.setAsideUntil = now + s.cooldownMs;
    announce({ replicaId: r.id, state: 'set_aside', until: r.setAsideUntil, failures: r.failures });
  }
}

/** Seconds until the first of these replicas is probed again (for Retry-After). */
export function secondsUntilProbe(replicas: readonly Replica[], now: number): number {
  const next = Math.min(...replicas.map((r) => Math.max(r.setAsideUntil ?? 0, r.probeUntil ?? 0)));
  return Math.max(1, Math.ceil((next - now) / 1000));
}
