import { describe, expect, it } from 'vitest';
import { newestLeafUnder, pathTo, siblingInfo } from './message-tree';

const at = (s: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, s)).toISOString();
// u1 → a1 ; u1 edited as u2 → a2 ; a2 regenerated as a3 (newest)
const messages = [
  { id: 'u1', parentId: null, createdAt: at(1) },
  { id: 'a1', parentId: 'u1', createdAt: at(2) },
  { id: 'u2', parentId: null, createdAt: at(3) },
  { id: 'a2', parentId: 'u2', createdAt: at(4) },
  { id: 'a3', parentId: 'u2', createdAt: at(5) },
];

describe('message tree', () => {
  it('shows the path to the newest leaf by default', () => {
    const leaf = newestLeafUnder(messages, null);
    expect(leaf?.id).toBe('a3');
    expect(pathTo(messages, leaf?.id).map((m) => m.id)).toEqual(['u2', 'a3']);
  });

  it('switching to an earlier sibling descends to that branch’s newest leaf', () => {
    const info = siblingInfo(messages, messages[2]);
    expect(info).toMatchObject({ index: 1, count: 2, previousId: 'u1', nextId: undefined });
    const leaf = newestLeafUnder(messages, info.previousId!);
    expect(pathTo(messages, leaf?.id).map((m) => m.id)).toEqual(['u1', 'a1']);
  });

  it('numbers regenerated replies among their siblings', () => {
    expect(siblingInfo(messages, messages[3])).toMatchObject({ index: 0, count: 2, nextId: 'a3' });
    expect(siblingInfo(messages, messages[1])).toMatchObject({ index: 0, count: 1 });
  });

  it('breaks equal timestamps by list order and survives unknown or cyclic ids', () => {
    const same = [
      { id: 'x', parentId: null, createdAt: at(1) },
      { id: 'y', parentId: 'x', createdAt: at(1) },
    ];
    expect(newestLeafUnder(same, null)?.id).toBe('y');
    expect(pathTo(same, 'nope')).toEqual([]);
    const cyclic = [{ id: 'c', parentId: 'c', createdAt: at(1) }];
    expect(pathTo(cyclic, 'c').map((m) => m.id)).toEqual(['c']);
  });
});
