'use client';

/** A job's spec as name/value rows, in the order it was written; lists are joined, objects shown as JSON. */
export function SpecTable({ spec, names }: { spec: Record<string, unknown>; names?: Map<string, string> }) {
  const rows = Object.entries(spec ?? {});
  const show = (key: string, value: unknown): string => {
    if (typeof value === 'string' && names?.has(value)) return names.get(value)!;
    if (Array.isArray(value)) return value.join(', ');
    if (value !== null && typeof value === 'object') return JSON.stringify(value);
    return String(value);
  };
  return (
    <dl className="kv" data-testid="job-spec">
      {rows.map(([key, value]) => (
        <div key={key} style={{ display: 'contents' }}>
          <dt className="mono">{key}</dt>
          <dd title={typeof value === 'string' ? value : undefined}>{show(key, value)}</dd>
        </div>
      ))}
    </dl>
  );
}
