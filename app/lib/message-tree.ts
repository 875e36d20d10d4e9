/**
 * Messages form a tree by parentId: editing a message or regenerating a reply adds a sibling, and
 * the conversation shows one path through the tree. These helpers are pure so the chat view can
 * recompute the visible path from (messages, chosen leaf) on every render.
 */
export interface TreeMessage {
  id: string;
  parentId: string | null;
  createdAt: string | Date;
}

export function timeOf(m: { createdAt: string | Date }): number {
  const t = new Date(m.createdAt).getTime();
  return Number.isNaN(t) ? 0 : t;
}

/** Children by parent id (null for roots), oldest first; equal times keep list order. */
export function childrenByParent<M extends TreeMessage>(messages: readonly M[]): Map<string | null, M[]> {
  const map = new Map<string | null, M[]>();
  messages.forEach((m) => {
    const list = map.get(m.parentId) ?? [];
    list.push(m);
    map.set(m.parentId, list);
  });
  for (const list of map.values()) stableSortByTime(list, messages);
  return map;
}

function stableSortByTime<M extends TreeMessage>(list: M[], order: readonly M[]) {
  const index = new Map(order.map((m, i) => [m.id, i]));
  list.sort((a, b) => timeOf(a) - timeOf(b) || (index.get(a.id) ?? 0) - (index.get(b.id) ?? 0));
}

/** The newest message in the subtree under (and including) rootId: always a leaf, since children come after parents. */
export function newestLeafUnder<M extends TreeMessage>(messages: readonly M[], rootId: string | null): M | undefined {
  const children = childrenByParent(messages);
  let best: M | undefined;
  let bestKey = -Infinity;
  const order = new Map(messages.map((m, i) => [m.id, i]));
  const stack: Array<string | null> = [rootId];
  while (stack.length) {
    const id = stack.pop()!;
    const self = id === null ? undefined : messages.find((m) => m.id === id);
    const kids = children.get(id) ?? [];
    if (self && kids.length === 0) {
      // Newest by time; the later position in the list breaks ties (it was stored later).
      const key = timeOf(self) * 1e6 + (order.get(self.id) ?? 0);
      if (key > bestKey) {
        best = self;
        bestKey = key;
      }
    }
    for (const k of kids) stack.push(k.id);
  }
  return best;
}

/** The messages from the root down to leafId, in order; empty when leafId is unknown. */
export function pathTo<M extends TreeMessage>(messages: readonly M[], leafId: string | null | undefined): M[] {
  const byId = new Map(messages.map((m) => [m.id, m]));
  const path: M[] = [];
  const seen = new Set<string>();
  let cursor = leafId ? byId.get(leafId) : undefined;
  while (cursor && !seen.has(cursor.id)) {
    seen.add(cursor.id);
    path.push(cursor);
    cursor = cursor.parentId ? byId.get(cursor.parentId) : undefined;
  }
  return path.reverse();
}

export interface SiblingInfo {
  index: number;
  count: number;
  previousId?: string;
  nextId?: string;
}

/** Where a message sits among the versions sharing its parent (for the "‹ 2/3 ›" switcher). */
export function siblingInfo<M extends TreeMessage>(messages: readonly M[], message: M): SiblingInfo {
  const siblings = childrenByParent(messages).get(message.parentId) ?? [message];
  const index = siblings.findIndex((m) => m.id === message.id);
  return {
    index,
    count: siblings.length,
    previousId: index > 0 ? siblings[index - 1].id : undefined,
    nextId: index >= 0 && index < siblings.length - 1 ? siblings[index + 1].id : undefined,
  };
}
