'use client';

import { useState, type FormEvent } from 'react';
import { useI18n } from '../../i18n/provider';
import { ALERT_KIND_LIST, KIND_UI } from './kinds';
import type { AlertKind, RuleInput, RuleView } from './views';

const DEFAULTS: Record<AlertKind, { threshold: number; durationSeconds: number }> = {
  gpu_temperature: { threshold: 85, durationSeconds: 300 },
  gpu_memory_pressure: { threshold: 95, durationSeconds: 300 },
  gpu_allocated_idle: { threshold: 5, durationSeconds: 1800 },
  agent_silent: { threshold: 60, durationSeconds: 0 },
  replica_restarts: { threshold: 3, durationSeconds: 600 },
  deployment_error_rate: { threshold: 5, durationSeconds: 300 },
  deployment_ttft_p95: { threshold: 2000, durationSeconds: 300 },
};

/** Creates a rule, or edits one when `rule` is given. The server checks everything again. */
export function RuleForm({ rule, onSubmit, onCancel }: { rule?: RuleView; onSubmit(input: RuleInput): Promise<void>; onCancel(): void }) {
  const { t } = useI18n();
  const [kind, setKind] = useState<AlertKind>(rule?.kind ?? 'gpu_temperature');
  const [name, setName] = useState(rule?.name ?? '');
  const [threshold, setThreshold] = useState(String(rule?.threshold ?? DEFAULTS[kind].threshold));
  const [duration, setDuration] = useState(String(rule?.durationSeconds ?? DEFAULTS[kind].durationSeconds));
  const [severity, setSeverity] = useState<'warning' | 'critical'>(rule?.severity ?? 'warning');
  const [scope, setScope] = useState<Record<string, string>>(rule?.scope ?? {});
  const [busy, setBusy] = useState(false);
  const ui = KIND_UI[kind];

  const changeKind = (next: AlertKind) => {
    setKind(next);
    if (!rule) {
      setThreshold(String(DEFAULTS[next].threshold));
      setDuration(String(DEFAULTS[next].durationSeconds));
    }
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const cleanScope = Object.fromEntries(Object.entries(scope).filter(([k, v]) => v.trim() !== '' && ui.scope.includes(k as never)));
      await onSubmit({ name, kind, threshold: Number(threshold), durationSeconds: Number(duration), severity, scope: cleanScope });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card rule-form" onSubmit={submit} data-testid="rule-form">
      <label className="field field-wide">
        <span>{t('alerts.rules.name')}</span>
        <input type="text" value={name} onChange={(e) => setName(e.target.value)} required maxLength={120} data-testid="rule-name" />
      </label>
      <label className="field field-wide">
        <span>{t('alerts.rules.kind')}</span>
        <select value={kind} onChange={(e) => changeKind(e.target.value as AlertKind)} data-testid="rule-kind">
          {ALERT_KIND_LIST.map((k) => (
            <option key={k} value={k}>
              {t(`alerts.kind.${k}`)}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>
          {t('alerts.rules.threshold')} {ui.unit && `(${ui.unit})`}
        </span>
        <input type="number" min={0} max={ui.unit === '%' ? 100 : undefined} step="any" value={threshold} onChange={(e) => setThreshold(e.target.value)} required data-testid="rule-threshold" />
      </label>
      <label className="field">
        <span>
          {t('alerts.rules.duration')} ({t('alerts.rules.seconds')})
        </span>
        <input type="number" min={ui.duration === 'window' ? 60 : 0} step={1} value={duration} onChange={(e) => setDuration(e.target.value)} required data-testid="rule-duration" />
        <small>{t(`alerts.rules.durationHelp.${ui.duration}`)}</small>
      </label>
      <label className="field">
        <span>{t('alerts.rules.severity')}</span>
        <select value={severity} onChange={(e) => setSeverity(e.target.value as 'warning' | 'critical')}>
          <option value="warning">{t('alerts.severity.warning')}</option>
          <option value="critical">{t('alerts.severity.critical')}</option>
        </select>
      </label>
      {ui.scope.map((key) => (
        <label className="field" key={key}>
          <span>
            {t('alerts.rules.scope')}: {t(key === 'node' ? 'alerts.rules.scopeNode' : key === 'gpu' ? 'alerts.rules.scopeGpu' : 'alerts.rules.scopeDeployment')}
          </span>
          <input
            type="text"
            value={scope[key] ?? ''}
            placeholder={t('alerts.rules.scopeAll')}
            pattern={key === 'gpu' ? '\\d{1,4}' : undefined}
            onChange={(e) => setScope((s) => ({ ...s, [key]: e.target.value }))}
          />
        </label>
      ))}
      <div className="form-actions">
        <button type="button" className="button" onClick={onCancel}>
          {t('alerts.rules.cancel')}
        </button>
        <button type="submit" className="button button-primary" disabled={busy} data-testid="rule-submit">
          {rule ? t('alerts.rules.save') : t('alerts.rules.create')}
        </button>
      </div>
    </form>
  );
}
