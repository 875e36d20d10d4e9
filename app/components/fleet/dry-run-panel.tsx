'use client';

import { useI18n } from '../../i18n/provider';
import { readableError } from '../../lib/errors';
import { ClaimBar } from './claim-bar';
import { PlacementTiles } from './gpu-tiles';
import type { DryRunView, NodeView } from './views';

const MiB = 1024 * 1024;

/** The GPU the claim is compared against: the smallest chosen one, else the largest in the fleet. */
export function budgetGpuBytes(result: DryRunView, nodes: NodeView[]): number | null {
  const byNode = new Map(nodes.map((n) => [n.name, n]));
  const chosen = result.placements.flatMap((p) => p.gpus.map((g) => byNode.get(p.node)?.gpus.find((x) => x.index === g)?.memoryTotalMiB ?? null));
  const known = chosen.filter((m): m is number => typeof m === 'number');
  if (known.length) return Math.min(...known) * MiB;
  const all = nodes.flatMap((n) => n.gpus.map((g) => g.memoryTotalMiB)).filter((m): m is number => typeof m === 'number');
  return all.length ? Math.max(...all) * MiB : null;
}

interface Props {
  result: DryRunView | null;
  checking: boolean;
  error: unknown;
  /** No model version chosen yet (and not an upstream endpoint): nothing to ask. */
  waiting: boolean;
  /** An external endpoint: there is nothing to place. */
  external: boolean;
  utilization: number;
  nodes: NodeView[];
}

/** The live answer beside the deployment form: will it fit, where, and what each GPU would hold. */
export function DryRunPanel({ result, checking, error, waiting, external, utilization, nodes }: Props) {
  const { t } = useI18n();
  return (
    <aside className="card dry-run" data-testid="dry-run" aria-live="polite" aria-busy={checking}>
      <h2>
        {t('dryRun.title')}
        {result && !waiting && (
          <span className={`verdict ${result.feasible ? 'verdict-yes' : 'verdict-no'}`} data-testid="dry-run-verdict" data-feasible={String(result.feasible)}>
            {result.feasible ? t('dryRun.fits') : t('dryRun.doesNotFit')}
          </span>
        )}
        <span className="spacer" />
        {checking && <small className="muted">{t('dryRun.checking')}</small>}
      </h2>
      {waiting && <p className="muted">{external ? t('dryRun.external') : t('dryRun.waiting')}</p>}
      {!waiting && error !== null && error !== undefined && (
        <p className="form-error" data-testid="dry-run-error">
          {t('dryRun.error', { message: readableError(error, t) })}
        </p>
      )}
      {!waiting && result && (
        <>
          {/* A CPU engine claims no GPU memory: no bar to draw. */}
          {result.perGpu && (result.perGpuBytes ?? 0) > 0 && (
            <section>
              <h3>{t('dryRun.claimPerGpu')}</h3>
              <ClaimBar claim={result.perGpu} gpuTotalBytes={budgetGpuBytes(result, nodes)} utilization={utilization} />
            </section>
          )}
          {result.placements.length > 0 && (
            <section>
              <h3>
                {t('dryRun.placement')}
                {/* TP and PP mean nothing to a CPU engine; the server leaves them null there. */}
                {result.tp !== null && ` · ${t('dryRun.parallel', { tp: result.tp, pp: result.pp ?? 1 })}`}
              </h3>
              <PlacementTiles placements={result.placements} nodes={nodes} />
              {/* A measured start of the same model, dtype, TP and GPU type replaces the estimate: say which. */}
              {result.basis && (
                <p className="muted" data-testid="dry-run-basis">
                  {t('measured.plannedFrom', { basis: result.basis })}
                </p>
              )}
            </section>
          )}
          {result.maxConcurrentSequences !== null && result.maxConcurrentSequences !== undefined && (
            <section>
              <h3>{t('dryRun.maxSequences')}</h3>
              <span className="big-number" data-testid="max-sequences">
                {result.maxConcurrentSequences}
              </span>
            </section>
          )}
          {!result.feasible && result.reasons.length > 0 && (
            <section>
              <h3>{t('dryRun.reasons')}</h3>
              <ul className="reasons" data-testid="dry-run-reasons">
                {result.reasons.map((r, i) => (
                  <li key={i}>{r}</li>
                ))}
              </ul>
            </section>
          )}
        </>
      )}
    </aside>
  );
}
