'use client';

import { useI18n } from '../../i18n/provider';
import { readableError } from '../../lib/errors';
import { formatBytes } from '../fleet/format';
import type { EstimateView } from './views';

const PART_COLORS = ['var(--blue)', 'var(--teal)', 'var(--yellow)', 'var(--orange-strong)', 'var(--gray)', 'var(--violet)'];

/** jobs.estimate's answer: memory per GPU as a stacked bar of its parts, and where it would run now or why not. */
export function EstimatePanel({ estimate, error, checking, waiting }: { estimate: EstimateView | null; error: unknown; checking: boolean; waiting: boolean }) {
  const { t } = useI18n();
  const perGpu = estimate?.perGpuBytes ?? estimate?.memoryBytes ?? null;
  const parts = Object.entries(estimate?.breakdown ?? {}).filter(([, v]) => typeof v === 'number' && v > 0);
  const total = parts.reduce((s, [, v]) => s + v, 0);
  const reasons = estimate?.reasons ?? [];
  const placements = estimate?.placements?.length ? estimate.placements : estimate?.node ? [{ node: estimate.node, gpus: estimate.gpus ?? [] }] : [];
  return (
    <aside className="card dry-run" data-testid="job-estimate" aria-busy={checking}>
      <h2>
        {t('jobs.form.estimate')}
        {estimate && !checking && (
          <span className={`verdict ${estimate.feasible ? 'verdict-yes' : 'verdict-no'}`} data-testid="estimate-verdict" data-feasible={String(Boolean(estimate.feasible))}>
            {estimate.feasible ? t('jobs.form.fits') : t('jobs.form.waits')}
          </span>
        )}
      </h2>
      {waiting ? (
        <p className="muted" style={{ margin: 0 }}>{t('jobs.form.estimateWaiting')}</p>
      ) : checking && !estimate ? (
        <p className="muted" style={{ margin: 0 }}>{t('jobs.form.estimating')}</p>
      ) : error ? (
        <p className="form-error" data-testid="estimate-error">{readableError(error, t)}</p>
      ) : estimate ? (
        <>
          <div>
            <h3>{t('jobs.form.perGpu')}</h3>
            <div className="big-number" data-testid="estimate-memory">{formatBytes(perGpu)}</div>
            {total > 0 && (
              <>
                <div className="claim-bar" style={{ marginTop: 6 }}>
                  {parts.map(([name, v], i) => (
                    <span key={name} style={{ width: `${(v / total) * 100}%`, background: PART_COLORS[i % PART_COLORS.length] }} title={`${name}: ${formatBytes(v)}`} />
                  ))}
                </div>
                <div className="legend">
                  {parts.map(([name, v], i) => (
                    <span key={name} style={{ display: 'contents' }}>
                      <i style={{ background: PART_COLORS[i % PART_COLORS.length] }} />
                      <span>{name.replace(/Bytes$/, '')}</span>
                      <b>{formatBytes(v)}</b>
                    </span>
                  ))}
                </div>
              </>
            )}
          </div>
          {placements.length > 0 && (
            <div>
              <h3>{t('jobs.form.wouldRunOn')}</h3>
              <div className="node-tiles">
                {placements.map((p) => (
                  <div key={p.node} className="node-tiles-row" data-testid="estimate-node">
                    <strong>{p.node}</strong>
                    <div className="tiles">
                      {p.gpus.length ? p.gpus.map((g) => <span key={g} className="tile tile-chosen">{g}</span>) : <span className="tile tile-cpu">CPU</span>}
                    </div>
                  </div>
                ))}
              </div>
            </div>
          )}
          {estimate.explanation && estimate.explanation.length > 0 && (
            <details>
              <summary className="muted" style={{ fontSize: 12, cursor: 'pointer' }}>{t('jobs.form.howComputed')}</summary>
              <ul className="muted" style={{ margin: '6px 0 0', paddingLeft: 18, fontSize: 12 }}>
                {estimate.explanation.map((line) => (
                  <li key={line}>{line}</li>
                ))}
              </ul>
            </details>
          )}
          {reasons.length > 0 && (
            <div>
              <h3>{t('jobs.form.whyNot')}</h3>
              <ul className="reasons" data-testid="estimate-reasons">
                {reasons.map((r) => (
                  <li key={r}>{r}</li>
                ))}
              </ul>
            </div>
          )}
        </>
      ) : null}
    </aside>
  );
}
