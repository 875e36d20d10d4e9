'use client';

import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../lib/trpc';
import { useSession } from './session';

export interface ShareableGroup {
  id: string;
  name: string;
}

/**
 * The groups the caller may share something with (a preset, a knowledge base): their own groups, or any
 * group for an admin (the server checks the same). `anyGroup` tells the two apart for the empty hint.
 */
export function useShareableGroups(enabled = true): { groups: ShareableGroup[]; anyGroup: boolean; error: unknown } {
  const { me } = useSession();
  const trpc = useTRPC();
  const admin = me.role === 'admin';
  const mine = useQuery(trpc.groups.mine.queryOptions(undefined, { enabled: enabled && !admin }));
  const all = useQuery(trpc.groups.list.queryOptions(undefined, { enabled: enabled && admin }));
  return { groups: (admin ? all.data : mine.data) ?? [], anyGroup: admin, error: mine.error ?? all.error };
}

/**
 * Ticks for the groups something is shared with. Groups it is shared with that the caller has since
 * left stay listed (by id), so they can be unticked.
 */
export function GroupShareField({
  label,
  emptyHint,
  groups,
  value,
  onChange,
  testId,
  tickPrefix,
  disabled,
}: {
  label: string;
  /** Shown instead of the ticks when there is no group to share with. */
  emptyHint: string;
  groups: ShareableGroup[];
  value: string[];
  onChange(groupIds: string[]): void;
  /** The fieldset's test id. */
  testId: string;
  /** Each tick's test id is `${tickPrefix}-${group name}`. */
  tickPrefix: string;
  disabled?: boolean;
}) {
  const options = [...groups, ...value.filter((id) => !groups.some((g) => g.id === id)).map((id) => ({ id, name: id }))];
  return (
    <fieldset className="field" style={{ flex: '1 1 100%', border: 'none', padding: 0, margin: 0 }} data-testid={testId} disabled={disabled}>
      <span>{label}</span>
      {options.length === 0 ? (
        <small className="muted">{emptyHint}</small>
      ) : (
        <div style={{ display: 'flex', flexWrap: 'wrap', gap: '4px 16px' }}>
          {options.map((g) => (
            <label key={g.id} className="radio-row">
              <input
                type="checkbox"
                checked={value.includes(g.id)}
                onChange={(e) => onChange(e.target.checked ? [...value, g.id] : value.filter((id) => id !== g.id))}
                data-testid={`${tickPrefix}-${g.name}`}
              />
              {g.name}
            </label>
          ))}
        </div>
      )}
    </fieldset>
  );
}
