'use client';

import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { useI18n } from '../../i18n/provider';
import { useTRPC } from '../../lib/trpc';
import type { ModelView } from '../fleet/views';
import type { LineageView } from '../jobs/views';
import { LineageGraph } from './lineage-graph';

/**
 * The lineage of a model card's versions that have a parent or children (anywhere in the catalog):
 * one drawing per family, since jobs.lineage answers with the whole family of any of its members.
 */
export function ModelLineage({ model, models }: { model: ModelView; models: ModelView[] }) {
  const { t } = useI18n();
  const [families, setFamilies] = useState<LineageView[]>([]);
  const parents = new Set(models.flatMap((m) => m.versions.map((v) => v.parentVersionId).filter(Boolean)));
  const related = model.versions.filter((v) => v.parentVersionId || parents.has(v.id)).map((v) => v.id);
  const relatedKey = related.join(',');
  const trpc = useTRPC();
  const queryClient = useQueryClient();

  useEffect(() => {
    if (!relatedKey) return setFamilies([]);
    let current = true;
    (async () => {
      const found: LineageView[] = [];
      for (const id of relatedKey.split(',')) {
        if (found.some((f) => f.nodes.some((n) => n.id === id))) continue;
        try {
          // One family at a time: a version already drawn in one needs no question of its own.
          found.push(await queryClient.fetchQuery(trpc.jobs.lineage.queryOptions({ versionId: id })));
        } catch {
          // A companion drawing: a failed family is left out, the versions table still lists it.
        }
      }
      if (!current) return;
      setFamilies(found);
      // /models#lineage-<id> (from a deployment page) arrives before the drawing exists: scroll once it does.
      const target = window.location.hash.startsWith('#lineage-') ? window.location.hash.slice(1) : null;
      if (target && found.some((f) => f.nodes.some((n) => `lineage-${n.id}` === target))) {
        requestAnimationFrame(() => document.getElementById(target)?.scrollIntoView({ block: 'center' }));
      }
    })();
    return () => {
      current = false;
    };
  }, [relatedKey, queryClient, trpc]);

  if (families.length === 0) return null;
  return (
    <div data-testid="model-lineage">
      <h3 className="section-title" style={{ marginBottom: 8 }}>{t('jobs.lineage')}</h3>
      {families.map((f) => (
        <LineageGraph key={f.nodes[0]?.id ?? 'family'} view={f} />
      ))}
    </div>
  );
}
