import { asc, inArray } from 'drizzle-orm';
import type { Db } from '../db/client';
import { experimentVariants, experiments } from '../db/schema';
import type { Route } from './routes';

/** One arm of an experiment, resolved to its deployment's route. */
export interface VariantRoute {
  id: string;
  label: string;
  experimentId: string;
  /** The deployment that serves this arm (replicas live there). */
  route: Route;
  /** Upper end of this arm's share of [0, total): assignment compares a hash against it. */
  cumulative: number;
}

/** A model name that points at an A/B experiment, as the gateway holds it in memory. */
export interface ExperimentRoute {
  id: string;
  name: string;
  status: 'running' | 'promoted';
  stickiness: 'user' | 'key';
  /** ms since epoch; NaN when open-ended. */
  startsAt: number;
  endsAt: number;
  variants: VariantRoute[];
  total: number;
  /** Set when promoted: every request goes here. */
  winner: VariantRoute | null;
  /** FNV-1a of the experiment id, the starting state for hashing a caller id. */
  seed: number;
}

/**
 * Running and promoted experiments by name. Draft and stopped ones are not loaded, so their names answer
 * 404 like an unknown model: a stopped experiment is over and its clients should name a deployment.
 * Variants are ordered by label so the weight ranges, and so every assignment, are the same in every
 * gateway process and after every reload.
 */
export async function loadExperiments(db: Db, byDeployment: ReadonlyMap<string, Route>): Promise<Map<string, ExperimentRoute>> {
  const rows = await db
    .select()
    .from(experiments)
    .where(inArray(experiments.status, ['running', 'promoted']));
  const out = new Map<string, ExperimentRoute>();
  if (rows.length === 0) return out;
  const variants = await db
    .select()
    .from(experimentVariants)
    .where(
      inArray(
        experimentVariants.experimentId,
        rows.map((r) => r.id),
      ),
    )
    .orderBy(asc(experimentVariants.label));
  for (const e of rows) {
    const list: VariantRoute[] = [];
    let total = 0;
    for (const v of variants) {
      if (v.experimentId !== e.id) continue;
      const route = byDeployment.get(v.deploymentId);
      if (!route || v.weight <= 0) continue; // a deleted deployment drops out of the draw
      total += v.weight;
      list.push({ id: v.id, label: v.label, experimentId: e.id, route, cumulative: total });
    }
    if (list.length === 0) continue;
    out.set(e.name, {
      id: e.id,
      name: e.name,
      status: e.status as 'running' | 'promoted',
      stickiness: e.stickiness,
      startsAt: e.startsAt?.getTime() ?? Number.NaN,
      endsAt: e.endsAt?.getTime() ?? Number.NaN,
      variants: list,
      total,
      winner: e.status === 'promoted' ? (list.find((v) => v.id === e.winnerVariantId) ?? null) : null,
      seed: fnv1a(e.id, 0x811c9dc5),
    });
  }
  return out;
}

function fnv1a(s: string, h: number): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** MurmurHash3's finaliser: FNV alone leaves the low bits of similar ids (uuids, sequential ids) correlated. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The caller's arm: a hash of (experiment, caller id) placed on the cumulative weights. The same caller
 * always gets the same arm (sticky without storing anything), and callers spread by weight.
 */
export function assignVariant(e: ExperimentRoute, stickyId: string): VariantRoute {
  const point = (mix(fnv1a(stickyId, e.seed)) / 4294967296) * e.total;
  const vs = e.variants;
  for (let i = 0; i < vs.length - 1; i++) if (point < vs[i]!.cumulative) return vs[i]!;
  return vs[vs.length - 1]!;
}

/** 'running' within its window, 'promoted', or why not: outside the window it answers like an unknown model. */
export function isLive(e: ExperimentRoute, now: number): boolean {
  if (e.status === 'promoted') return e.winner !== null;
  return !(now < e.startsAt) && !(now >= e.endsAt);
}
