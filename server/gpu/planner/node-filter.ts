import type { PlacementRequest, PlannerNode } from './types';

/** Why a node cannot take this deployment at all, whatever its memory; null when it can be considered. */
export function nodeFilterReason(node: PlannerNode, request: PlacementRequest): string | null {
  if (!node.healthy) return 'unhealthy (no recent heartbeat)';
  for (const [key, value] of Object.entries(request.labels ?? {})) {
    const has = node.labels[key];
    if (has === value) continue;
    return has === undefined ? `label ${key}=${value} required, node has no ${key} label` : `label ${key}=${value} required, node has ${key}=${has}`;
  }
  if (!node.engines.includes(request.engine)) {
    return `engine ${request.engine} not available (node runs ${node.engines.length ? node.engines.join(', ') : 'no engines'})`;
  }
  if (node.gpus.length === 0) return 'no GPUs';
  return null;
}
