'use client';

import Link from 'next/link';
import { formatDateTime } from '../format';
import { formatBytes } from '../fleet/format';
import { useI18n } from '../../i18n/provider';
import { holderLabel } from './gpu-charts';
import type { AllocationView } from './views';

/** The same allocations the bands show, as rows with exact times (a band's edge is hard to read to the minute). */
export function AllocationTable({ allocations }: { allocations: AllocationView[] }) {
  const { t, locale } = useI18n();
  if (allocations.length === 0) return <p className="muted">{t('monitoring.allocations.empty')}</p>;
  return (
    <div className="table-wrap">
      <table className="table table-dense" data-testid="allocation-table">
        <thead>
          <tr>
            <th>GPU</th>
            <th>{t('monitoring.holder')}</th>
            <th>{t('monitoring.from')}</th>
            <th>{t('monitoring.to')}</th>
            <th>{t('monitoring.claimed')}</th>
          </tr>
        </thead>
        <tbody>
          {allocations.map((a, i) => (
            <tr key={`${a.holderId}-${a.gpuIndex}-${i}`} data-testid="allocation-row">
              <td>{a.gpuIndex}</td>
              <td>
                {a.deploymentId ? (
                  <Link href={`/deployments/${a.deploymentId}`} className="chip chip-accent">
                    {a.holderName}
                  </Link>
                ) : (
                  <span className="chip">{holderLabel(a, t('monitoring.job'))}</span>
                )}
              </td>
              <td className="nowrap muted">{formatDateTime(new Date(a.from), locale)}</td>
              <td className="nowrap muted">{a.to === null ? t('monitoring.stillHeld') : formatDateTime(new Date(a.to), locale)}</td>
              <td className="nowrap">{formatBytes(a.memoryBytes)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
