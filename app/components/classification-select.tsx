'use client';

import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import { useI18n } from '../i18n/provider';
import { useTRPC, useTRPCClient } from '../lib/trpc';
import { useToast } from './toast';

type Kind = 'conversation' | 'dataset' | 'api_key' | 'knowledge_base';

/**
 * A conversation's, dataset's, API key's or knowledge base's classification: a small select of the
 * configured levels (what the owner declares; lowering is explicit and audited on the server), and, when
 * the detector raised the subject above it, a badge saying to what and why (finding types and counts,
 * never values). `refreshKey` re-reads it (after a chat turn, whose message may have raised it);
 * `readOnly` shows it to someone who may not change it (a knowledge base shared with them). `title`: a
 * hint on the select, in place of the level's name.
 */
export function ClassificationSelect({ kind, id, refreshKey, testId, readOnly, title }: { kind: Kind; id: string; refreshKey?: unknown; testId?: string; readOnly?: boolean; title?: string }) {
  const { t } = useI18n();
  const toast = useToast();
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  const current = useQuery(trpc.classification.get.queryOptions({ kind, id }));
  const { refetch } = current;
  useEffect(() => {
    if (refreshKey !== undefined) void refetch();
  }, [refreshKey, refetch]);
  const data = current.data;
  if (!data) return null;
  const name = (level: number) => data.names[level] ?? String(level);
  const findings = Object.entries(data.findings)
    .map(([type, n]) => `${type.startsWith('custom:') ? type.slice(7) : t(`dp.type.${type}` as Parameters<typeof t>[0])} ×${n}`)
    .join(', ');

  async function change(level: number) {
    try {
      await client.classification.set.mutate({ kind, id, level });
      toast.show(t('dp.levelSaved', { level: name(level) }));
    } catch (err) {
      toast.error(err);
    }
    await queryClient.invalidateQueries({ queryKey: trpc.classification.get.queryKey() });
  }

  return (
    <span className="classification" data-testid={testId ?? `classification-${kind}`}>
      <select
        className={`classification-select level-${data.declaredLevel}`}
        value={data.declaredLevel}
        title={title ?? t('dp.levelTitle', { level: name(data.level) })}
        aria-label={t('dp.level')}
        disabled={readOnly}
        onChange={(e) => void change(Number(e.target.value))}
      >
        {data.names.map((n, level) => (
          <option key={n} value={level}>
            {n}
          </option>
        ))}
      </select>
      {data.level > data.declaredLevel && (
        <span className={`badge level-${data.level}`} title={t('dp.levelRaised', { level: name(data.level), findings })} data-testid="classification-raised">
          {name(data.level)}
        </span>
      )}
    </span>
  );
}
