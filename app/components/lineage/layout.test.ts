import { describe, expect, it } from 'vitest';
import type { LineageNodeView } from '../jobs/views';
import { layoutLineage } from './layout';

const node = (id: string, parentVersionId: string | null, format: LineageNodeView['format'] = 'hf', quantization: string | null = null): LineageNodeView => ({
  id,
  model: 'm',
  version: id,
  format,
  quantization,
  stage: 'promoted',
  sizeBytes: null,
  parentVersionId,
  producedByJobId: parentVersionId ? `job-${id}` : null,
  producedByJob: null,
  createdAt: new Date(0),
  deployments: [],
});

const place = (layout: ReturnType<typeof layoutLineage>) => Object.fromEntries(layout.boxes.map((b) => [b.key, { col: b.col, row: b.row, role: b.role }]));

describe('lineage layout', () => {
  it('draws base → adapter → merged → quantized → deployment left to right on one row', () => {
    const layout = layoutLineage({
      nodes: [node('quant', 'merged', 'gguf', 'q8_0'), node('base', null), node('adapter', 'base', 'lora-adapter'), node('merged', 'adapter')],
      deployments: [{ id: 'd1', name: 'prod', modelVersionId: 'quant', status: 'ready' }],
    });
    expect(place(layout)).toEqual({
      base: { col: 0, row: 0, role: 'base' },
      adapter: { col: 1, row: 0, role: 'adapter' },
      merged: { col: 2, row: 0, role: 'merged' },
      quant: { col: 3, row: 0, role: 'quantized' },
      'deployment:d1': { col: 4, row: 0, role: 'deployment' },
    });
    expect(layout.edges).toEqual([
      { from: 'base', to: 'adapter' },
      { from: 'adapter', to: 'merged' },
      { from: 'merged', to: 'quant' },
      { from: 'quant', to: 'deployment:d1' },
    ]);
    expect(layout).toMatchObject({ cols: 5, rows: 1 });
  });

  it('centres a parent between its branches and puts every deployment in the last column', () => {
    const layout = layoutLineage({
      nodes: [node('base', null, 'gguf'), node('q8', 'base', 'gguf', 'q8_0'), node('f16', 'base', 'gguf', 'f16')],
      deployments: [
        { id: 'a', name: 'base-dep', modelVersionId: 'base', status: 'ready' },
        { id: 'b', name: 'q8-dep', modelVersionId: 'q8', status: 'stopped' },
        { id: 'x', name: 'elsewhere', modelVersionId: 'not-in-graph', status: 'ready' },
      ],
    });
    const p = place(layout);
    expect(p.q8).toEqual({ col: 1, row: 0, role: 'quantized' });
    expect(p['deployment:b']).toEqual({ col: 2, row: 0, role: 'deployment' });
    expect(p.f16).toMatchObject({ col: 1, row: 1 });
    expect(p['deployment:a']).toMatchObject({ col: 2, row: 2 });
    expect(p.base).toMatchObject({ col: 0, row: 1 });
    expect(p['deployment:x']).toBeUndefined();
    expect(layout).toMatchObject({ cols: 3, rows: 3 });
  });

  it('shows a version whose parent is missing, or that sits in a cycle, as a root instead of dropping it', () => {
    const orphan = layoutLineage({ nodes: [node('child', 'gone')], deployments: [] });
    expect(place(orphan)).toEqual({ child: { col: 0, row: 0, role: 'base' } });
    const cycle = layoutLineage({ nodes: [node('a', 'b'), node('b', 'a')], deployments: [] });
    expect(cycle.boxes).toHaveLength(2);
    expect(new Set(cycle.boxes.map((b) => b.key))).toEqual(new Set(['a', 'b']));
  });

  it('is one empty row when there is nothing to draw', () => {
    expect(layoutLineage({ nodes: [], deployments: [] })).toEqual({ boxes: [], edges: [], cols: 1, rows: 1 });
  });
});
