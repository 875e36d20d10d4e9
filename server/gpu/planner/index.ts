import { FleetIndex } from './fleet-index';
import { plan } from './search';
import type { PlacementPlan, PlacementRequest, PlannerNode } from './types';

export { FleetIndex, PlannerInputError } from './fleet-index';
export { formatBytes } from './reasons';
export type { ClaimPerGpu, Placement, PlacementPlan, PlacementRequest, Policy } from './types';

/** One placement decision on a snapshot of the fleet (a dry run). For many decisions in a row, keep a FleetIndex. */
export function planPlacement(nodes: PlannerNode[], request: PlacementRequest): PlacementPlan {
  return plan(new FleetIndex(nodes), request);
}

/** Decides and records the claim, so that the next decision on the same index sees those GPUs taken. */
export function placeAndCommit(index: FleetIndex, request: PlacementRequest): PlacementPlan {
  const result = plan(index, request);
  index.commit(result);
  return result;
}
