'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useEffect, useRef } from 'react';
import { useI18n } from '../../i18n/provider';
import type { MessageKey } from '../../i18n/en';
import { useTRPC } from '../../lib/trpc';
import type { LineageView } from '../jobs/views';
import { layoutLineage, type LineageBox } from './layout';
import './lineage.css';

const BOX_W = 164;
const BOX_H = 54;
const GAP_X = 36;
const GAP_Y = 12;

const left = (b: Pick<LineageBox, 'col'>) => b.col * (BOX_W + GAP_X);
const top = (b: Pick<LineageBox, 'row'>) => b.row * (BOX_H + GAP_Y);

/**
 * base → adapter → merged → quantized → deployments, left to right. Each version opens the job that
 * produced it (or its row on /models when it was registered by hand), each deployment its own page.
 */
export function LineageGraph({ view, focusId }: { view: LineageView; focusId?: string | null }) {
  const { t } = useI18n();
  const layout = layoutLineage(view);
  const byKey = new Map(layout.boxes.map((b) => [b.key, b]));
  const width = layout.cols * (BOX_W + GAP_X) - GAP_X;
  const height = layout.rows * (BOX_H + GAP_Y) - GAP_Y;

  return (
    <div className="lineage-scroll">
      <div className="lineage" style={{ width, height }} data-testid="lineage-graph" data-nodes={view.nodes.length} data-deployments={layout.boxes.filter((b) => b.role === 'deployment').length}>
        <svg width={width} height={height} aria-hidden>
          <defs>
            <marker id="lineage-arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto">
              <path d="M0,0 L8,4 L0,8 z" fill="var(--gray)" stroke="none" />
            </marker>
          </defs>
          {layout.edges.map((e) => {
            const from = byKey.get(e.from);
            const to = byKey.get(e.to);
            if (!from || !to) return null;
            const x1 = left(from) + BOX_W;
            const y1 = top(from) + BOX_H / 2;
            const x2 = left(to) - 2;
            const y2 = top(to) + BOX_H / 2;
            const mid = (x1 + x2) / 2;
            return <path key={`${e.from}-${e.to}`} className="edge" d={`M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`} markerEnd="url(#lineage-arrow)" />;
          })}
        </svg>
        {layout.boxes.map((b) => {
          const style = { left: left(b), top: top(b), width: BOX_W, height: BOX_H };
          const role = t(`jobs.role.${b.role}` as MessageKey);
          if (b.deployment) {
            const d = b.deployment;
            return (
              <Link key={b.key} href={`/deployments/${d.id}`} className="lineage-box role-deployment" style={style} data-testid="lineage-deployment" title={d.name}>
                <strong>{d.name}</strong>
                <small>
                  {role} · {d.status}
                </small>
              </Link>
            );
          }
          const v = b.version!;
          // An adapter's format says what its role already says.
          const detail = [role, v.quantization ?? (v.format === 'lora-adapter' ? null : v.format)].filter(Boolean).join(' · ');
          const focus = v.id === focusId ? ' lineage-focus' : '';
          const body = (
            <>
              <strong>
                {v.model} · {v.version}
              </strong>
              <small>
                {detail}
                {v.stage === 'candidate' && <span className="lineage-candidate"> · {t('jobs.role.candidate')}</span>}
              </small>
            </>
          );
          const common = { id: `lineage-${v.id}`, className: `lineage-box role-${b.role}${focus}`, style, title: `${v.model} · ${v.version}`, 'data-testid': 'lineage-node', 'data-role': b.role, 'data-stage': v.stage };
          return v.producedByJobId ? (
            <Link key={b.key} href={`/jobs/${v.producedByJobId}`} {...common}>
              {body}
            </Link>
          ) : (
            <a key={b.key} href={`/models#version-${v.id}`} {...common}>
              {body}
            </a>
          );
        })}
      </div>
    </div>
  );
}

/** Loads the lineage of one version (its whole chain) and draws it; nothing while loading or when it has no relatives. */
export function LineagePanel({ versionId, refreshKey, title = true }: { versionId: string; refreshKey?: unknown; title?: boolean }) {
  const { t } = useI18n();
  const trpc = useTRPC();
  // A companion view: its failure must not take the page around it down (it just draws nothing).
  const lineage = useQuery(trpc.jobs.lineage.queryOptions({ versionId }));
  const view = lineage.error ? null : (lineage.data ?? null);
  // The page says when the family may have changed (a job finished, a version was promoted).
  const { refetch } = lineage;
  const seen = useRef(refreshKey);
  useEffect(() => {
    if (seen.current === refreshKey) return;
    seen.current = refreshKey;
    void refetch();
  }, [refreshKey, refetch]);
  if (!view || (view.nodes.length < 2 && view.deployments.length === 0)) return null;
  return (
    <div data-testid="lineage-panel" data-version={versionId}>
      {title && <h3 className="section-title" style={{ marginBottom: 8 }}>{t('jobs.lineage')}</h3>}
      <LineageGraph view={view} focusId={versionId} />
    </div>
  );
}
