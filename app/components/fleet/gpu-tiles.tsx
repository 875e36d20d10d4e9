'use client';

import { useI18n } from '../../i18n/provider';

/**
 * The chosen GPUs of each node as tiles: every GPU of the node is a square, the chosen ones filled,
 * so a placement's shape (2 of 8, spread over nodes) is seen at once. A node with no GPUs is "CPU".
 */
export function PlacementTiles({ placements, gpuCounts }: { placements: { node: string; gpus: number[] }[]; gpuCounts: Record<string, number> }) {
  const { t } = useI18n();
  return (
    <div className="node-tiles" data-testid="placement">
      {placements.map((p) => {
        const count = Math.max(gpuCounts[p.node] ?? 0, ...p.gpus.map((g) => g + 1), 0);
        const chosen = new Set(p.gpus);
        return (
          <div key={p.node} className="node-tiles-row" data-testid="placement-node" data-node={p.node}>
            <strong>{p.node}</strong>
            <div className="tiles">
              {count === 0 ? (
                <span className="tile tile-cpu tile-chosen">{t('dryRun.cpuOnly')}</span>
              ) : (
                Array.from({ length: count }, (_, i) => (
                  <span key={i} className={`tile${chosen.has(i) ? ' tile-chosen' : ''}`} data-testid={chosen.has(i) ? 'tile-chosen' : undefined}>
                    {i}
                  </span>
                ))
              )}
            </div>
          </div>
        );
      })}
    </div>
  );
}
