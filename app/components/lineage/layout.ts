import type { LineageNodeView, LineageView } from '../jobs/views';

/** What a version is in the chain, for its label and colour. */
export type LineageRole = 'base' | 'adapter' | 'merged' | 'quantized' | 'deployment';

export interface LineageBox {
  key: string;
  role: LineageRole;
  col: number;
  row: number;
  version?: LineageNodeView;
  deployment?: LineageView['deployments'][number];
}

export interface LineageLayout {
  boxes: LineageBox[];
  edges: { from: string; to: string }[];
  cols: number;
  rows: number;
}

export function roleOf(node: LineageNodeView, hasParent: boolean): LineageRole {
  if (!hasParent) return 'base';
  if (node.format === 'lora-adapter') return 'adapter';
  if (node.quantization) return 'quantized';
  return 'merged';
}

/**
 * Columns by generation (base, then each derived step), deployments in one column after the last
 * version so every chain ends where it serves; rows as a tree: a leaf takes the next row and a parent
 * sits at the middle of its children. A parent outside the answer (or a cycle, which the database
 * should never hold) makes a version a root rather than hiding it.
 */
export function layoutLineage(view: Pick<LineageView, 'nodes' | 'deployments'>): LineageLayout {
  const byId = new Map(view.nodes.map((n) => [n.id, n]));
  const children = new Map<string, string[]>();
  const roots: string[] = [];
  for (const n of view.nodes) {
    if (n.parentVersionId && byId.has(n.parentVersionId) && n.parentVersionId !== n.id) {
      children.set(n.parentVersionId, [...(children.get(n.parentVersionId) ?? []), n.id]);
    } else roots.push(n.id);
  }
  const deploymentsOf = new Map<string, LineageView['deployments']>();
  for (const d of view.deployments) {
    if (byId.has(d.modelVersionId)) deploymentsOf.set(d.modelVersionId, [...(deploymentsOf.get(d.modelVersionId) ?? []), d]);
  }

  const depth = new Map<string, number>();
  const placed = new Set<string>();
  const order: string[] = [];
  const visitDepth = (id: string, d: number) => {
    if (placed.has(id)) return;
    placed.add(id);
    depth.set(id, d);
    order.push(id);
    for (const c of children.get(id) ?? []) visitDepth(c, d + 1);
  };
  for (const r of roots) visitDepth(r, 0);
  // Versions only reachable through a cycle: show them as roots.
  for (const n of view.nodes) if (!placed.has(n.id)) visitDepth(n.id, 0);
  const maxDepth = Math.max(0, ...depth.values());
  const deployCol = maxDepth + 1;

  const boxes: LineageBox[] = [];
  const edges: LineageLayout['edges'] = [];
  let nextRow = 0;
  const seen = new Set<string>();
  const assign = (id: string): number => {
    seen.add(id);
    const node = byId.get(id)!;
    const rows: number[] = [];
    for (const c of children.get(id) ?? []) {
      if (seen.has(c)) continue;
      edges.push({ from: id, to: c });
      rows.push(assign(c));
    }
    for (const d of deploymentsOf.get(id) ?? []) {
      const key = `deployment:${d.id}`;
      boxes.push({ key, role: 'deployment', col: deployCol, row: nextRow, deployment: d });
      edges.push({ from: id, to: key });
      rows.push(nextRow++);
    }
    const row = rows.length ? (Math.min(...rows) + Math.max(...rows)) / 2 : nextRow++;
    const hasParent = Boolean(node.parentVersionId && byId.has(node.parentVersionId) && depth.get(id)! > 0);
    boxes.push({ key: id, role: roleOf(node, hasParent), col: depth.get(id)!, row, version: node });
    return row;
  };
  for (const id of order) if (!seen.has(id)) assign(id);

  const hasDeployments = boxes.some((b) => b.role === 'deployment');
  return { boxes, edges, cols: hasDeployments ? deployCol + 1 : maxDepth + 1, rows: Math.max(nextRow, 1) };
}
