'use client';

/**
 * Ticks for knowledge bases: the chat header's picker (attach to this conversation) and the preset form
 * (attach to each chat started from it). Each tick carries the base's name for tests (`data-kb-name`).
 */
export function KnowledgeChecklist({
  bases,
  checked,
  onToggle,
  tickTestId,
}: {
  bases: { id: string; name: string }[];
  checked: ReadonlySet<string>;
  onToggle(kbId: string, on: boolean): void;
  tickTestId: string;
}) {
  return (
    <>
      {bases.map((kb) => (
        <label key={kb.id} style={{ display: 'flex', gap: 8, alignItems: 'center' }}>
          <input type="checkbox" checked={checked.has(kb.id)} data-testid={tickTestId} data-kb-name={kb.name} onChange={(e) => onToggle(kb.id, e.target.checked)} />
          {kb.name}
        </label>
      ))}
    </>
  );
}
