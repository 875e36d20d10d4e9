'use client';

import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { formatDateTime } from '../format';
import { useI18n } from '../../i18n/provider';
import type { Locale } from '../../i18n/locales';
import { useTRPC, type RouterOutputs } from '../../lib/trpc';
import { useToast } from '../toast';
import { useBusyAction } from '../use-busy-action';

type Settings = RouterOutputs['deployments']['gateway'];
type Breaker = Settings['breakers'][string];
const CACHE_MODES = ['deterministic', 'all', 'off'] as const;

/** A replica's breaker state as the gateways last reported it (the replicas table shows it per row). */
export function BreakerState({ view, known, locale }: { view: Breaker | undefined; known: boolean; locale: Locale }) {
  const { t } = useI18n();
  if (!known) return <span className="muted">{t('gatewayPanel.unknown')}</span>;
  // Past its cooldown, the next request probes it.
  if (!view || (view.state === 'set_aside' && view.until <= Date.now()) || view.state === 'probing')
    return view ? <span className="chip" data-testid="breaker-probing">{t('gatewayPanel.probing')}</span> : <span className="muted">{t('gatewayPanel.inService')}</span>;
  return (
    <span className="error-text" data-testid="breaker-set-aside">
      {t('gatewayPanel.setAsideUntil', { time: formatDateTime(new Date(view.until), locale), failures: view.failures ?? '?' })}
    </span>
  );
}

/** The deployment's gateway settings (cache, timeouts, retry budget, fallbacks), editable by those who manage the fleet. */
export function GatewayPanel({ deploymentId, settings, canEdit, onChanged }: { deploymentId: string; settings: Settings; canEdit: boolean; onChanged(): void }) {
  const { t } = useI18n();
  const [editing, setEditing] = useState(false);
  const s = settings;
  const name = (d: { name: string | null }) => d.name ?? t('gatewayPanel.deleted');
  const ms = (v: number | null, fallback: number) => (v === null ? t('gatewayPanel.default', { ms: fallback }) : `${v} ms`);

  return (
    <section className="card" data-testid="gateway-panel">
      <div className="page-head">
        <div>
          <h2>{t('gatewayPanel.title')}</h2>
          <p className="muted">{t('gatewayPanel.hint')}</p>
        </div>
        {canEdit && !editing && (
          <button type="button" className="button" onClick={() => setEditing(true)} data-testid="gateway-edit">
            {t('gatewayPanel.edit')}
          </button>
        )}
      </div>
      {editing ? (
        <GatewayForm deploymentId={deploymentId} settings={s} onDone={() => { setEditing(false); onChanged(); }} />
      ) : (
        <dl style={{ display: 'grid', gridTemplateColumns: 'max-content 1fr', gap: '4px 16px', margin: 0 }} data-testid="gateway-settings">
          <dt>{t('gatewayPanel.cache')}</dt>
          <dd data-testid="gateway-cache">
            {t(`gatewayPanel.cacheMode.${s.cacheMode}`)}
            {s.cacheMode !== 'off' && ` · ${s.cacheTtlSeconds} s`}
          </dd>
          <dt>{t('gatewayPanel.firstToken')}</dt>
          <dd>{ms(s.firstTokenTimeoutMs, s.defaults.firstTokenTimeoutMs)}</dd>
          <dt>{t('gatewayPanel.total')}</dt>
          <dd>{ms(s.requestTimeoutMs, s.defaults.requestTimeoutMs)}</dd>
          <dt>{t('gatewayPanel.maxRetries')}</dt>
          <dd>{s.maxRetries ?? t('gatewayPanel.everyReplica')}</dd>
          <dt>{t('gatewayPanel.ratio')}</dt>
          <dd>{s.retryBudgetRatio === null ? t('gatewayPanel.noRatio') : `${Math.round(s.retryBudgetRatio * 100)}%`}</dd>
          <dt>{t('gatewayPanel.fallbacks')}</dt>
          <dd data-testid="gateway-fallbacks">{s.fallbacks.length ? s.fallbacks.map(name).join(' → ') : t('gatewayPanel.none')}</dd>
          <dt>{t('gatewayPanel.contextFallback')}</dt>
          <dd data-testid="gateway-context-fallback">{s.contextFallback ? name(s.contextFallback) : t('gatewayPanel.none')}</dd>
          <dt>{t('media.capabilities')}</dt>
          <dd data-testid="gateway-capabilities">{[s.vision && t('media.vision'), s.audio && t('media.audio'), s.tools && t('tools.capable')].filter(Boolean).join(' · ') || t('media.textOnly')}</dd>
        </dl>
      )}
    </section>
  );
}

const optionalInt = (v: string) => (v.trim() === '' ? null : Number(v));

function GatewayForm({ deploymentId, settings, onDone }: { deploymentId: string; settings: Settings; onDone(): void }) {
  const { t } = useI18n();
  const toast = useToast();
  const trpc = useTRPC();
  const others = (useQuery(trpc.deployments.list.queryOptions()).data ?? []).filter((d) => d.id !== deploymentId);
  const save = useMutation(trpc.deployments.setGateway.mutationOptions()).mutateAsync;
  const { busy, act } = useBusyAction();
  const [cacheMode, setCacheMode] = useState<(typeof CACHE_MODES)[number]>(settings.cacheMode);
  const [ttl, setTtl] = useState(String(settings.cacheTtlSeconds));
  const [firstToken, setFirstToken] = useState(settings.firstTokenTimeoutMs?.toString() ?? '');
  const [total, setTotal] = useState(settings.requestTimeoutMs?.toString() ?? '');
  const [maxRetries, setMaxRetries] = useState(settings.maxRetries?.toString() ?? '');
  const [ratio, setRatio] = useState(settings.retryBudgetRatio?.toString() ?? '');
  const [chain, setChain] = useState<string[]>(settings.fallbackDeploymentIds);
  const [context, setContext] = useState(settings.contextFallbackDeploymentId ?? '');
  const [vision, setVision] = useState(settings.vision);
  const [audio, setAudio] = useState(settings.audio);
  const [tools, setTools] = useState(settings.tools);
  const nameOf = (id: string) => others.find((d) => d.id === id)?.name ?? t('gatewayPanel.deleted');

  // The server checks every rule (ranges, no self or repeated fallback, timeouts that fit): its message is shown as it is.
  function submit() {
    void act(
      () =>
        save({
          id: deploymentId,
          cacheMode,
          cacheTtlSeconds: Number(ttl),
          firstTokenTimeoutMs: optionalInt(firstToken),
          requestTimeoutMs: optionalInt(total),
          maxRetries: optionalInt(maxRetries),
          retryBudgetRatio: ratio.trim() === '' ? null : Number(ratio),
          fallbackDeploymentIds: chain,
          contextFallbackDeploymentId: context || null,
          vision,
          audio,
          tools,
        }),
      () => {
        toast.show(t('gatewayPanel.saved'), 'info');
        onDone();
      },
    );
  }

  return (
    <form className="inline-form" onSubmit={(e) => { e.preventDefault(); submit(); }} data-testid="gateway-form">
      <label className="field">
        <span>{t('gatewayPanel.cache')}</span>
        <select value={cacheMode} onChange={(e) => setCacheMode(e.target.value as (typeof CACHE_MODES)[number])} data-testid="gateway-cache-mode">
          {CACHE_MODES.map((m) => (
            <option key={m} value={m}>
              {t(`gatewayPanel.cacheMode.${m}`)}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>{t('gatewayPanel.ttl')}</span>
        <input type="number" min={1} value={ttl} onChange={(e) => setTtl(e.target.value)} data-testid="gateway-ttl" />
      </label>
      <label className="field">
        <span>{t('gatewayPanel.firstToken')}</span>
        <input type="number" min={100} value={firstToken} placeholder={t('gatewayPanel.default', { ms: settings.defaults.firstTokenTimeoutMs })} onChange={(e) => setFirstToken(e.target.value)} data-testid="gateway-first-token" />
      </label>
      <label className="field">
        <span>{t('gatewayPanel.total')}</span>
        <input type="number" min={100} value={total} placeholder={t('gatewayPanel.default', { ms: settings.defaults.requestTimeoutMs })} onChange={(e) => setTotal(e.target.value)} data-testid="gateway-total" />
      </label>
      <label className="field">
        <span>{t('gatewayPanel.maxRetries')}</span>
        <input type="number" min={0} max={16} value={maxRetries} placeholder={t('gatewayPanel.everyReplica')} onChange={(e) => setMaxRetries(e.target.value)} data-testid="gateway-max-retries" />
      </label>
      <label className="field">
        <span>{t('gatewayPanel.ratio')}</span>
        <input type="number" min={0} max={1} step={0.05} value={ratio} placeholder={t('gatewayPanel.noRatio')} onChange={(e) => setRatio(e.target.value)} data-testid="gateway-ratio" />
      </label>
      <div className="field">
        <span>{t('gatewayPanel.fallbacks')}</span>
        <ol data-testid="gateway-chain">
          {chain.map((id) => (
            <li key={id}>
              {nameOf(id)}{' '}
              <button type="button" className="button" aria-label={t('gatewayPanel.remove', { name: nameOf(id) })} onClick={() => setChain(chain.filter((c) => c !== id))}>
                ×
              </button>
            </li>
          ))}
        </ol>
        <select value="" onChange={(e) => e.target.value && setChain([...chain, e.target.value])} data-testid="gateway-chain-add">
          <option value="">{t('gatewayPanel.add')}</option>
          {others
            .filter((d) => !chain.includes(d.id))
            .map((d) => (
              <option key={d.id} value={d.id}>
                {d.name}
              </option>
            ))}
        </select>
      </div>
      <label className="field">
        <span>{t('gatewayPanel.contextFallback')}</span>
        <select value={context} onChange={(e) => setContext(e.target.value)} data-testid="gateway-context">
          <option value="">{t('gatewayPanel.none')}</option>
          {others.map((d) => (
            <option key={d.id} value={d.id}>
              {d.name}
            </option>
          ))}
        </select>
      </label>
      <fieldset className="field" style={{ border: 0, padding: 0 }}>
        <legend>{t('media.capabilities')}</legend>
        <label>
          <input type="checkbox" checked={vision} onChange={(e) => setVision(e.target.checked)} data-testid="gateway-vision" /> {t('media.vision')}
        </label>{' '}
        <label>
          <input type="checkbox" checked={audio} onChange={(e) => setAudio(e.target.checked)} data-testid="gateway-audio" /> {t('media.audio')}
        </label>{' '}
        <label>
          <input type="checkbox" checked={tools} onChange={(e) => setTools(e.target.checked)} data-testid="gateway-tools" /> {t('tools.capable')}
        </label>
      </fieldset>
      <div className="actions-row">
        <button type="button" className="button" disabled={busy} onClick={onDone}>
          {t('common.cancel')}
        </button>
        <button type="submit" className="button button-primary" disabled={busy} data-testid="gateway-save">
          {t('common.save')}
        </button>
      </div>
    </form>
  );
}
