'use client';

import { useI18n } from '../../i18n/provider';
import { formatBytes, percentOf } from './format';
import type { NodeView } from './views';

const MiB = 1024 * 1024;

/**
 * The chosen GPUs of each node as tiles: every GPU of the node is a square, the chosen ones filled,
 * so a placement's shape (2 of 8, spread over nodes) is seen at once. A grey rise inside a tile is
 * memory other replicas or jobs already hold there. A node with no GPUs is "CPU".
 */
export function PlacementTiles({ placements, nodes }: { placements: { node: string; gpus: number[] }[]; nodes: NodeView[] }) {
  const { t } = useI18n();
  return (
    <div className="node-tiles" data-testid="placement">
      {placements.map((p) => {
        const node = nodes.find((n) => n.name === p.node);
        const count = Math.max(node?.gpus.length ?? 0, ...p.gpus.map((g) => g + 1), 0);
        const chosen = new Set(p.gpus);
        return (
          <div key={p.node} className="node-tiles-row" data-testid="placement-node" data-node={p.node}>
            <strong>{p.node}</strong>
            <div className="tiles">
              {count === 0 ? (
                <span className="tile tile-cpu tile-chosen">{t('dryRun.cpuOnly')}</span>
              ) : (
                Array.from({ length: count }, (_, i) => {
                  const gpu = node?.gpus.find((g) => g.index === i);
                  const held = (gpu?.allocations ?? []).reduce((sum, a) => sum + (a.memoryBytes ?? 0), 0);
                  const heldPct = percentOf(held, (gpu?.memoryTotalMiB ?? 0) * MiB);
                  const isChosen = chosen.has(i);
                  return (
                    <span
                      key={i}
                      className={`tile${isChosen ? ' tile-chosen' : ''}`}
                      style={!isChosen && heldPct > 0 ? { background: `linear-gradient(to top, var(--surface-2) ${heldPct}%, var(--panel) ${heldPct}%)` } : undefined}
                      title={held > 0 ? `${t('gpus.heldBy')}: ${formatBytes(held)}` : undefined}
                      data-testid={isChosen ? 'tile-chosen' : undefined}
                    >
                      {i}
                    </span>
                  );
                })
              )}
            </div>
          </div>
        );
      })}
    </div>
  );
}
