'use client';

import { useI18n } from '../../i18n/provider';
import type { TelemetryWindow } from './views';

const WINDOWS: TelemetryWindow[] = ['hour', 'day', 'week'];

/** Hour / day / week, as a segmented control. */
export function WindowSwitch({ value, onChange }: { value: TelemetryWindow; onChange(w: TelemetryWindow): void }) {
  const { t } = useI18n();
  return (
    <div className="segmented" role="group" aria-label={t('monitoring.windowLabel')} data-testid="window-switch">
      {WINDOWS.map((w) => (
        <button key={w} type="button" className={w === value ? 'active' : ''} aria-pressed={w === value} onClick={() => onChange(w)} data-window={w}>
          {t(`monitoring.window.${w}`)}
        </button>
      ))}
    </div>
  );
}
