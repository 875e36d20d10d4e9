'use client';

import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { DataTable } from '../components/data-table';
import { Field } from '../components/field';
import { useSession } from '../components/session';
import { useErrorToast } from '../components/toast';
import { useBusyAction } from '../components/use-busy-action';
import { useI18n } from '../i18n/provider';
import { useTRPC } from '../lib/trpc';
import { DayBars, fillDays } from './day-bars';

type Group = 'user' | 'group' | 'key' | 'model' | 'day';
const GROUPS: Group[] = ['user', 'group', 'key', 'model', 'day'];

function dayOffset(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

/** Usage from the daily rollup: everyone's own by day and model; admins and viewers everyone's, grouped. */
export default function UsagePage() {
  const { t, locale } = useI18n();
  const { me } = useSession();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const reader = me.role === 'admin' || me.role === 'viewer';
  const [from, setFrom] = useState(() => dayOffset(-29));
  const [to, setTo] = useState(() => dayOffset(0));
  const [groupBy, setGroupBy] = useState<Group>('user');
  const [scope, setScope] = useState<'all' | 'mine'>(reader ? 'all' : 'mine');
  const all = reader && scope === 'all';
  const range = { from, to };
  const summary = useQuery(trpc.usage.summary.queryOptions({ ...range, groupBy }, { enabled: all && !!from && !!to }));
  const mine = useQuery(trpc.usage.mine.queryOptions(range, { enabled: !all && !!from && !!to }));
  const current = all ? summary : mine;
  useErrorToast(current.error);
  const { busy, act } = useBusyAction();
  const num = new Intl.NumberFormat(locale);
  const money = (cost: number | null, currency: string | null) => (cost === null ? '—' : `${cost.toFixed(cost < 1 ? 4 : 2)} ${currency ?? ''}`.trim());

  const exportCsv = () =>
    act(async () => {
      const options = all ? trpc.usage.csv.queryOptions(range) : trpc.usage.mineCsv.queryOptions(range);
      const { csv, filename } = await queryClient.fetchQuery({ ...options, staleTime: 0 });
      const link = document.createElement('a');
      link.href = URL.createObjectURL(new Blob([csv], { type: 'text/csv;charset=utf-8' }));
      link.download = filename;
      link.click();
      URL.revokeObjectURL(link.href);
    });

  const days = current.data ? fillDays(from, to, current.data.days) : [];
  const numbers = (r: { requests: number; errors: number; promptTokens: number; completionTokens: number; cost: number | null; currency: string | null }) => (
    <>
      <td className="num">{num.format(r.requests)}</td>
      <td className="num">{num.format(r.errors)}</td>
      <td className="num">{num.format(r.promptTokens)}</td>
      <td className="num">{num.format(r.completionTokens)}</td>
      <td className="num">{num.format(r.promptTokens + r.completionTokens)}</td>
      <td className="num">{money(r.cost, r.currency)}</td>
    </>
  );
  const numberHeads = (
    <>
      <th className="num">{t('usage.requests')}</th>
      <th className="num">{t('usage.errors')}</th>
      <th className="num">{t('usage.promptTokens')}</th>
      <th className="num">{t('usage.completionTokens')}</th>
      <th className="num">{t('usage.totalTokens')}</th>
      <th className="num">{t('usage.cost')}</th>
    </>
  );
  const groupLabel = (key: string | null, label: string | null) =>
    label ?? key ?? (groupBy === 'key' ? t('usage.noKey') : groupBy === 'user' ? t('usage.noUser') : groupBy === 'group' ? t('usage.noGroup') : '—');

  return (
    <div className="manage-page">
      <div className="page-head">
        <div>
          <h1>{t('usage.title')}</h1>
          <p className="muted">{all ? t('usage.subtitleAll') : t('usage.subtitleMine')}</p>
        </div>
        <button type="button" className="button" onClick={exportCsv} disabled={busy || !current.data} data-testid="usage-export">
          {t('usage.exportCsv')}
        </button>
      </div>
      <div className="card usage-controls" data-testid="usage-controls">
        <Field label={t('usage.from')}>
          <input type="date" value={from} max={to} onChange={(e) => setFrom(e.target.value)} data-testid="usage-from" />
        </Field>
        <Field label={t('usage.to')}>
          <input type="date" value={to} min={from} onChange={(e) => setTo(e.target.value)} data-testid="usage-to" />
        </Field>
        {reader && (
          <Field label={t('usage.scope')}>
            <select value={scope} onChange={(e) => setScope(e.target.value as 'all' | 'mine')} data-testid="usage-scope">
              <option value="all">{t('usage.scope.all')}</option>
              <option value="mine">{t('usage.scope.mine')}</option>
            </select>
          </Field>
        )}
        {all && (
          <Field label={t('usage.groupBy')}>
            <select value={groupBy} onChange={(e) => setGroupBy(e.target.value as Group)} data-testid="usage-group">
              {GROUPS.map((g) => (
                <option key={g} value={g}>
                  {t(`usage.group.${g}`)}
                </option>
              ))}
            </select>
          </Field>
        )}
      </div>
      <div className="card usage-chart">
        <h2>{t('usage.chart')}</h2>
        <DayBars days={days} label={t('usage.chart')} names={[t('usage.promptTokens'), t('usage.completionTokens')]} testId="usage-chart" />
      </div>
      {all ? (
        <DataTable
          testId="usage-table"
          className="table usage-table"
          columns={7}
          loading={summary.isLoading}
          empty={summary.data && summary.data.rows.length === 0 && t('usage.none')}
          head={
            <>
              <th>{t(`usage.group.${groupBy}`)}</th>
              {numberHeads}
            </>
          }
        >
          {summary.data?.rows.map((r) => (
            <tr key={r.key ?? ''}>
              <td>{groupLabel(r.key, r.label)}</td>
              {numbers(r)}
            </tr>
          ))}
        </DataTable>
      ) : (
        <DataTable
          testId="usage-table"
          className="table usage-table"
          columns={8}
          loading={mine.isLoading}
          empty={mine.data && mine.data.rows.length === 0 && t('usage.none')}
          head={
            <>
              <th>{t('usage.day')}</th>
              <th>{t('usage.model')}</th>
              {numberHeads}
            </>
          }
        >
          {mine.data?.rows.map((r) => (
            <tr key={`${r.day} ${r.model}`}>
              <td>{r.day}</td>
              <td>{r.model}</td>
              {numbers(r)}
            </tr>
          ))}
        </DataTable>
      )}
    </div>
  );
}
