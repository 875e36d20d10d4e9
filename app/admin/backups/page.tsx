'use client';

import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { LineChart } from '../../components/charts/line-chart';
import { ProgressBar } from '../../components/charts/progress-bar';
import { DataTable } from '../../components/data-table';
import { formatBytes } from '../../components/fleet/format';
import { formatDateTime } from '../../components/format';
import { useErrorToast, useToast } from '../../components/toast';
import { useBusyAction } from '../../components/use-busy-action';
import { useI18n } from '../../i18n/provider';
import { useTRPC, useTRPCClient, type RouterOutputs } from '../../lib/trpc';

type Drill = RouterOutputs['backups']['list']['drills'][number];
interface Report {
  ok: boolean;
  error?: string;
  seconds: number;
  tables: { table: string; expectedRows: number; rows: number; match: boolean }[];
  files: { count: number; bytes: number };
  conversations: { total: number; decrypted: number; shredded: number; failed: number };
  audit: { ok: boolean; rows: number; brokenAtId?: number };
}

/** Backups (from their manifests) and restore drills with live progress and their results (admins; issue 13, part 5). */
export default function BackupsPage() {
  const { t, locale } = useI18n();
  const toast = useToast();
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  const [followed, setFollowed] = useState<string | null>(null);
  const list = useQuery({ ...trpc.backups.list.queryOptions(), refetchInterval: followed ? false : 10_000 });
  // The running drill's row, read every second until it ends.
  const live = useQuery({ ...trpc.backups.drill.queryOptions({ id: followed ?? '00000000-0000-0000-0000-000000000000' }), enabled: !!followed, refetchInterval: 1000 });
  useErrorToast(list.error ?? live.error);
  const refresh = () => void queryClient.invalidateQueries({ queryKey: trpc.backups.list.queryKey() });
  const { busy, act } = useBusyAction(refresh);
  const [selected, setSelected] = useState<string | null>(null);

  useEffect(() => {
    const row = live.data;
    if (!row || row.status === 'running') return;
    setFollowed(null);
    setSelected(row.id);
    refresh();
    if (row.status === 'passed') toast.show(t('backups.passed'));
    else toast.show(t('backups.failed', { error: row.error ?? t('backups.mismatch') }));
  }, [live.data?.status]);

  const start = (backupId: string) =>
    act(
      async () => setFollowed((await client.backups.startDrill.mutate({ backupId })).id),
      () => toast.show(t('backups.started')),
    );

  const data = list.data;
  const running = live.data?.status === 'running' ? live.data : data?.drills.find((d) => d.status === 'running');
  const shown = data?.drills.find((d) => d.id === selected);
  const sizes = (data?.backups ?? []).filter((b) => b.createdAt).map((b) => ({ x: Date.parse(b.createdAt), y: b.bytes })).sort((a, b) => a.x - b.x);

  return (
    <div className="manage-page" data-testid="backups-page">
      <h1>{t('backups.title')}</h1>
      <p className="muted">{t('backups.hint')}</p>
      {data && <p className="muted">{t('backups.folder', { root: data.root, schema: data.schema })}</p>}

      {running && (
        <div className="card" data-testid="drill-progress">
          <ProgressBar value={running.progress} label={t('backups.running', { id: running.backupId, phase: running.phase })} testId="drill-progress-bar" />
        </div>
      )}

      {sizes.length > 1 && (
        <LineChart label={t('backups.sizeChart')} series={[{ name: t('backups.size'), points: sizes }]} xKind="time" formatY={(y) => formatBytes(y)} height={160} testId="backup-sizes" />
      )}

      <DataTable
        testId="backups-table"
        head={
          <>
            <th>{t('backups.id')}</th>
            <th>{t('backups.createdAt')}</th>
            <th>{t('backups.size')}</th>
            <th>{t('backups.schema')}</th>
            <th>{t('backups.contents')}</th>
            <th />
          </>
        }
        columns={6}
        loading={!data && !list.error}
        empty={data?.backups.length === 0 && t('backups.none')}
      >
        {data?.backups.map((b) => (
          <tr key={b.id} data-testid="backup-row">
            <td>
              <code>{b.id}</code>
            </td>
            <td>{formatDateTime(b.createdAt, locale)}</td>
            <td>{formatBytes(b.bytes)}</td>
            <td>
              {b.schema} {b.newerSchema && <span className="badge badge-failure">{t('backups.newer')}</span>}
            </td>
            <td>
              {t('backups.contentsValue', { tables: b.tables, rows: b.rows, files: b.files, keys: b.keys })}
              {b.removedKeys > 0 && <span className="muted"> · {t('backups.shredded', { n: b.removedKeys })}</span>}
            </td>
            <td>
              <button type="button" className="button" disabled={busy || !!running || b.newerSchema} onClick={() => void start(b.id)} data-testid="run-drill">
                {t('backups.drill')}
              </button>
            </td>
          </tr>
        ))}
      </DataTable>

      <h2>{t('backups.drills')}</h2>
      <DataTable
        testId="drills-table"
        head={
          <>
            <th>{t('backups.startedAt')}</th>
            <th>{t('backups.id')}</th>
            <th>{t('backups.status')}</th>
            <th>{t('backups.tablesMatch')}</th>
            <th>{t('backups.conversations')}</th>
            <th>{t('backups.audit')}</th>
            <th>{t('backups.files')}</th>
            <th>{t('backups.seconds')}</th>
          </>
        }
        columns={8}
        loading={!data && !list.error}
        empty={data?.drills.length === 0 && t('backups.noDrills')}
      >
        {data?.drills.map((d) => (
          <DrillRow key={d.id} drill={d} selected={d.id === selected} onSelect={() => setSelected(d.id)} />
        ))}
      </DataTable>

      {shown?.result && (
        <>
          <h2>{t('backups.details')}</h2>
          <DataTable
            testId="drill-tables"
            head={
              <>
                <th>{t('backups.table')}</th>
                <th>{t('backups.rows')}</th>
                <th>{t('backups.hash')}</th>
              </>
            }
            columns={3}
          >
            {(shown.result as unknown as Report).tables.map((r) => (
              <tr key={r.table} data-testid="drill-table-row">
                <td>
                  <code>{r.table}</code>
                </td>
                <td>
                  {r.expectedRows} / {r.rows}
                </td>
                <td>{r.match ? <span className="badge">{t('backups.match')}</span> : <span className="badge badge-failure">{t('backups.mismatch')}</span>}</td>
              </tr>
            ))}
          </DataTable>
        </>
      )}
    </div>
  );

  function DrillRow({ drill, selected: isSelected, onSelect }: { drill: Drill; selected: boolean; onSelect: () => void }) {
    const r = drill.result as unknown as Report | null;
    const matching = r ? r.tables.filter((x) => x.match).length : 0;
    return (
      <tr data-testid="drill-row" data-status={drill.status} className={isSelected ? 'selected' : undefined} onClick={onSelect} style={{ cursor: r ? 'pointer' : undefined }}>
        <td>{formatDateTime(drill.createdAt, locale)}</td>
        <td>
          <code>{drill.backupId}</code>
        </td>
        <td>
          <span className={drill.status === 'failed' ? 'badge badge-failure' : 'badge'}>{t(`backups.status.${drill.status}`)}</span>
          {drill.error && <div className="muted">{drill.error}</div>}
        </td>
        <td>{r ? `${matching} / ${r.tables.length}` : '—'}</td>
        <td>
          {r ? `${r.conversations.decrypted} / ${r.conversations.total}` : '—'}
          {r && r.conversations.shredded > 0 && <span className="muted"> · {t('backups.shreddedConversations', { n: r.conversations.shredded })}</span>}
        </td>
        <td>{r ? (r.audit.ok ? t('backups.auditOk', { rows: r.audit.rows }) : t('backups.auditBroken')) : '—'}</td>
        <td>{r ? `${r.files.count} · ${formatBytes(r.files.bytes)}` : '—'}</td>
        <td>{r ? `${r.seconds.toFixed(1)} s` : '—'}</td>
      </tr>
    );
  }
}
