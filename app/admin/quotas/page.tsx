'use client';

import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { DataTable } from '../../components/data-table';
import { Field } from '../../components/field';
import { useErrorToast, useToast } from '../../components/toast';
import { useBusyAction } from '../../components/use-busy-action';
import { useI18n } from '../../i18n/provider';
import { useTRPC, useTRPCClient } from '../../lib/trpc';

const LIMITS = ['requestsPerMinute', 'tokensPerDay', 'tokensPerMonth', 'maxConcurrent'] as const;
type LimitName = (typeof LIMITS)[number];
type LimitValues = Record<LimitName, string>;
const EMPTY: LimitValues = { requestsPerMinute: '', tokensPerDay: '', tokensPerMonth: '', maxConcurrent: '' };

const toText = (row: Partial<Record<LimitName, number | null>> | undefined): LimitValues =>
  Object.fromEntries(LIMITS.map((l) => [l, row?.[l] == null ? '' : String(row[l])])) as LimitValues;
/** Empty: no limit. The server refuses anything else that is not a positive whole number, naming the field. */
const toLimits = (v: LimitValues) => Object.fromEntries(LIMITS.map((l) => [l, v[l].trim() === '' ? null : Number(v[l])])) as Record<LimitName, number | null>;

function LimitInputs({ value, onChange, testId }: { value: LimitValues; onChange: (v: LimitValues) => void; testId: string }) {
  const { t } = useI18n();
  return (
    <>
      {LIMITS.map((l) => (
        <Field key={l} label={t(`quotas.${l}`)}>
          <input
            inputMode="numeric"
            placeholder={t('quotas.noLimit')}
            value={value[l]}
            onChange={(e) => onChange({ ...value, [l]: e.target.value })}
            data-testid={`${testId}-${l}`}
          />
        </Field>
      ))}
    </>
  );
}

export default function QuotasPage() {
  const { t } = useI18n();
  const toast = useToast();
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  const list = useQuery(trpc.quotas.list.queryOptions());
  const people = useQuery(trpc.users.list.queryOptions());
  useErrorToast(list.error ?? people.error);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.quotas.list.queryKey() });
  const { busy, act } = useBusyAction(refresh);
  const data = list.data;

  const [defaults, setDefaults] = useState<Record<'default_user' | 'default_key', LimitValues>>({ default_user: EMPTY, default_key: EMPTY });
  useEffect(() => {
    if (!data) return;
    setDefaults({
      default_user: toText(data.quotas.find((q) => q.subjectKind === 'default_user')),
      default_key: toText(data.quotas.find((q) => q.subjectKind === 'default_key')),
    });
  }, [data]);
  const [override, setOverride] = useState({ kind: 'user' as 'user' | 'key' | 'group', subjectId: '', limits: EMPTY });
  const [prices, setPrices] = useState<Record<string, { prompt: string; completion: string; currency: string }>>({});
  useEffect(() => {
    if (!data) return;
    setPrices(
      Object.fromEntries(
        data.deployments.map((d) => {
          const p = data.prices.find((x) => x.deploymentId === d.id);
          return [d.id, { prompt: p ? String(p.promptPerMillion) : '', completion: p ? String(p.completionPerMillion) : '', currency: p?.currency ?? 'USD' }];
        }),
      ),
    );
  }, [data]);

  const saveDefault = (kind: 'default_user' | 'default_key') =>
    act(() => client.quotas.set.mutate({ subjectKind: kind, ...toLimits(defaults[kind]) }), () => toast.show(t('quotas.saved')));

  function saveOverride(event: FormEvent) {
    event.preventDefault();
    void act(
      () => client.quotas.set.mutate({ subjectKind: override.kind, subjectId: override.subjectId, ...toLimits(override.limits) }),
      () => {
        toast.show(t('quotas.saved'));
        setOverride({ ...override, subjectId: '', limits: EMPTY });
      },
    );
  }

  const remove = (id: string) => act(() => client.quotas.remove.mutate({ id }), () => toast.show(t('quotas.removed')));
  const savePrice = (deploymentId: string) => {
    const p = prices[deploymentId]!;
    return act(
      () =>
        p.prompt === '' && p.completion === ''
          ? client.quotas.removePrice.mutate({ deploymentId })
          : client.quotas.setPrice.mutate({ deploymentId, promptPerMillion: Number(p.prompt || 0), completionPerMillion: Number(p.completion || 0), currency: p.currency.trim().toUpperCase() }),
      () => toast.show(t('quotas.priceSaved')),
    );
  };

  const overrides = data?.quotas.filter((q) => q.subjectKind === 'user' || q.subjectKind === 'key' || q.subjectKind === 'group') ?? null;
  const fmt = (v: number | null) => (v === null ? t('quotas.noLimit') : v.toLocaleString());
  const subjects = override.kind === 'user' ? (people.data ?? []).map((u) => ({ id: u.id, label: u.email })) : override.kind === 'group' ? (data?.groups ?? []) : (data?.keys ?? []);

  return (
    <div className="manage-page" data-testid="quotas-page">
      <h1>{t('quotas.title')}</h1>
      <p className="muted">{t('quotas.hint')}</p>

      <h2>{t('quotas.defaults')}</h2>
      {(['default_user', 'default_key'] as const).map((kind) => (
        <form
          key={kind}
          className="card inline-form"
          data-testid={`quota-${kind}`}
          onSubmit={(e) => {
            e.preventDefault();
            void saveDefault(kind);
          }}
        >
          <strong className="field field-narrow">{t(`quotas.${kind}`)}</strong>
          <LimitInputs value={defaults[kind]} onChange={(v) => setDefaults({ ...defaults, [kind]: v })} testId={kind} />
          <button type="submit" className="button button-primary" disabled={busy || !data}>
            {t('common.save')}
          </button>
        </form>
      ))}

      <h2>{t('quotas.overrides')}</h2>
      <form className="card inline-form" onSubmit={saveOverride} data-testid="quota-override-form">
        <Field label={t('quotas.subject')}>
          <select value={override.kind} onChange={(e) => setOverride({ ...override, kind: e.target.value as 'user' | 'key' | 'group', subjectId: '' })} data-testid="override-kind">
            <option value="user">{t('quotas.kind.user')}</option>
            <option value="key">{t('quotas.kind.key')}</option>
            <option value="group">{t('quotas.kind.group')}</option>
          </select>
        </Field>
        <Field label={t(`quotas.kind.${override.kind}`)} wide>
          <select required value={override.subjectId} onChange={(e) => setOverride({ ...override, subjectId: e.target.value })} data-testid="override-subject">
            <option value="">{t('quotas.choose')}</option>
            {subjects.map((s) => (
              <option key={s.id} value={s.id}>
                {s.label}
              </option>
            ))}
          </select>
        </Field>
        <LimitInputs value={override.limits} onChange={(limits) => setOverride({ ...override, limits })} testId="override" />
        <button type="submit" className="button button-primary" disabled={busy || !override.subjectId} data-testid="save-override">
          {t('common.save')}
        </button>
      </form>
      <DataTable
        testId="quota-overrides"
        head={
          <>
            <th>{t('quotas.subject')}</th>
            {LIMITS.map((l) => (
              <th key={l}>{t(`quotas.${l}`)}</th>
            ))}
            <th />
          </>
        }
        columns={6}
        loading={overrides === null}
        empty={overrides?.length === 0 && t('quotas.noOverrides')}
      >
        {overrides?.map((q) => (
          <tr key={q.id} data-testid="quota-override-row">
            <td>
              {t(`quotas.kind.${q.subjectKind as 'user' | 'key' | 'group'}`)}: {q.label}
            </td>
            {LIMITS.map((l) => (
              <td key={l}>{fmt(q[l])}</td>
            ))}
            <td>
              <button type="button" className="text-button danger" disabled={busy} onClick={() => void remove(q.id)}>
                {t('common.delete')}
              </button>
            </td>
          </tr>
        ))}
      </DataTable>

      <h2>{t('quotas.prices')}</h2>
      <p className="muted">{t('quotas.pricesHint')}</p>
      <DataTable
        testId="quota-prices"
        head={
          <>
            <th>{t('quotas.deployment')}</th>
            <th>{t('quotas.promptPrice')}</th>
            <th>{t('quotas.completionPrice')}</th>
            <th>{t('quotas.currency')}</th>
            <th />
          </>
        }
        columns={5}
        loading={!data}
      >
        {data?.deployments.map((d) => {
          const p = prices[d.id] ?? { prompt: '', completion: '', currency: 'USD' };
          const set = (patch: Partial<typeof p>) => setPrices({ ...prices, [d.id]: { ...p, ...patch } });
          return (
            <tr key={d.id}>
              <td>{d.name}</td>
              <td>
                <input inputMode="decimal" aria-label={t('quotas.promptPrice')} value={p.prompt} onChange={(e) => set({ prompt: e.target.value })} />
              </td>
              <td>
                <input inputMode="decimal" aria-label={t('quotas.completionPrice')} value={p.completion} onChange={(e) => set({ completion: e.target.value })} />
              </td>
              <td>
                <input aria-label={t('quotas.currency')} maxLength={3} size={4} value={p.currency} onChange={(e) => set({ currency: e.target.value })} />
              </td>
              <td>
                <button type="button" className="text-button" disabled={busy} onClick={() => void savePrice(d.id)}>
                  {t('common.save')}
                </button>
              </td>
            </tr>
          );
        })}
      </DataTable>
    </div>
  );
}
