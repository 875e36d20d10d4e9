'use client';

import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { ConfirmDialog } from '../../components/confirm-dialog';
import { DataTable } from '../../components/data-table';
import { Field } from '../../components/field';
import { formatDateTime } from '../../components/format';
import { useErrorToast, useToast } from '../../components/toast';
import { useBusyAction } from '../../components/use-busy-action';
import { useI18n } from '../../i18n/provider';
import { useTRPC, useTRPCClient, type RouterOutputs } from '../../lib/trpc';

type Hold = RouterOutputs['retention']['holds'][number];
type Kind = 'conversation' | 'dataset';
const KINDS: Kind[] = ['conversation', 'dataset'];

/** Retention policies per classification level, and legal holds (admins; issue 13, part 3). */
export default function RetentionPage() {
  const { t, locale } = useI18n();
  const toast = useToast();
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  const policies = useQuery(trpc.retention.policies.queryOptions());
  const holds = useQuery(trpc.retention.holds.queryOptions());
  const people = useQuery(trpc.users.list.queryOptions());
  useErrorToast(policies.error ?? holds.error ?? people.error);
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: trpc.retention.policies.queryKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.retention.holds.queryKey() });
  };
  const { busy, act } = useBusyAction(refresh);

  // The days typed per kind and level; empty: kept forever.
  const [days, setDays] = useState<Record<string, string>>({});
  useEffect(() => {
    if (policies.data) setDays(Object.fromEntries(policies.data.policies.map((p) => [`${p.subjectKind}:${p.level}`, p.keepDays == null ? '' : String(p.keepDays)])));
  }, [policies.data]);
  const save = (subjectKind: Kind, level: number) => {
    const text = (days[`${subjectKind}:${level}`] ?? '').trim();
    // The server refuses anything but whole days from 1, naming the field.
    return act(() => client.retention.setPolicy.mutate({ subjectKind, level, keepDays: text === '' ? null : Number(text) }), () => toast.show(t('retention.saved')));
  };

  const [hold, setHold] = useState({ subjectKind: 'user' as 'user' | 'conversation', subjectId: '', reason: '' });
  function place(event: FormEvent) {
    event.preventDefault();
    void act(
      () => client.retention.placeHold.mutate({ subjectKind: hold.subjectKind, subjectId: hold.subjectId.trim(), reason: hold.reason }),
      () => {
        toast.show(t('retention.placed'));
        setHold({ ...hold, subjectId: '', reason: '' });
      },
    );
  }
  const [lifting, setLifting] = useState<Hold | null>(null);
  const subjectOf = (h: Hold) => (h.subjectKind === 'user' ? (h.subjectLabel ?? h.subjectId) : `${t('retention.kind.conversation')} ${h.subjectId}${h.subjectLabel ? ` (${h.subjectLabel})` : ''}`);

  const data = policies.data;
  return (
    <div className="manage-page" data-testid="retention-page">
      <h1>{t('retention.title')}</h1>
      <p className="muted">{t('retention.hint')}</p>

      <h2>{t('retention.policies')}</h2>
      <DataTable
        testId="retention-policies"
        head={
          <>
            <th>{t('retention.level')}</th>
            {KINDS.map((k) => (
              <th key={k}>
                {t(`retention.kind.${k}`)} · {t('retention.keepDays')}
              </th>
            ))}
          </>
        }
        columns={3}
        loading={!data && !policies.error}
      >
        {data?.levels.map((name, level) => (
          <tr key={name} data-testid={`policy-${name}`}>
            <td>
              {name} {level === data.defaultLevel && <span className="muted">{t('retention.defaultLevel')}</span>}
            </td>
            {KINDS.map((kind) => {
              const p = data.policies.find((x) => x.subjectKind === kind && x.level === level);
              return (
                <td key={kind}>
                  <form
                    className="inline-form"
                    onSubmit={(e) => {
                      e.preventDefault();
                      void save(kind, level);
                    }}
                  >
                    <input
                      style={{ width: '7em' }}
                      inputMode="numeric"
                      aria-label={`${t(`retention.kind.${kind}`)} ${name} ${t('retention.keepDays')}`}
                      placeholder={t('retention.forever')}
                      value={days[`${kind}:${level}`] ?? ''}
                      onChange={(e) => setDays({ ...days, [`${kind}:${level}`]: e.target.value })}
                      data-testid={`keep-${kind}-${name}`}
                    />
                    <button type="submit" className="button" disabled={busy} data-testid={`save-${kind}-${name}`}>
                      {t('common.save')}
                    </button>
                    {p?.updatedAt && <small className="muted">{formatDateTime(p.updatedAt, locale)}</small>}
                  </form>
                </td>
              );
            })}
          </tr>
        ))}
      </DataTable>

      <h2>{t('retention.holds')}</h2>
      <p className="muted">{t('retention.holdsHint')}</p>
      <form className="card inline-form" onSubmit={place} data-testid="hold-form">
        <Field label={t('retention.subjectKind')}>
          <select value={hold.subjectKind} onChange={(e) => setHold({ ...hold, subjectKind: e.target.value as 'user' | 'conversation', subjectId: '' })} data-testid="hold-kind">
            <option value="user">{t('retention.subject.user')}</option>
            <option value="conversation">{t('retention.subject.conversation')}</option>
          </select>
        </Field>
        {hold.subjectKind === 'user' ? (
          <Field label={t('retention.person')} wide>
            <select required value={hold.subjectId} onChange={(e) => setHold({ ...hold, subjectId: e.target.value })} data-testid="hold-person">
              <option value="">{t('retention.choose')}</option>
              {(people.data ?? []).map((u) => (
                <option key={u.id} value={u.id}>
                  {u.email}
                </option>
              ))}
            </select>
          </Field>
        ) : (
          <Field label={t('retention.conversationId')} wide>
            <input required value={hold.subjectId} onChange={(e) => setHold({ ...hold, subjectId: e.target.value })} data-testid="hold-conversation" />
          </Field>
        )}
        <Field label={t('retention.reason')} wide>
          <input required maxLength={500} value={hold.reason} onChange={(e) => setHold({ ...hold, reason: e.target.value })} data-testid="hold-reason" />
        </Field>
        <button type="submit" className="button button-primary" disabled={busy || !hold.subjectId || !hold.reason.trim()} data-testid="place-hold">
          {t('retention.place')}
        </button>
      </form>
      <DataTable
        testId="holds-table"
        head={
          <>
            <th>{t('retention.subject')}</th>
            <th>{t('retention.reason')}</th>
            <th>{t('retention.placedBy')}</th>
            <th>{t('retention.liftedAt')}</th>
            <th />
          </>
        }
        columns={5}
        loading={!holds.data && !holds.error}
        empty={holds.data?.length === 0 && t('retention.noHolds')}
      >
        {holds.data?.map((h) => (
            <tr key={h.id} data-testid="hold-row">
              <td>{subjectOf(h)}</td>
              <td>{h.reason}</td>
              <td>
                {h.placedBy ?? '—'} · {formatDateTime(h.placedAt, locale)}
              </td>
              <td>{h.liftedAt ? `${h.liftedBy ?? '—'} · ${formatDateTime(h.liftedAt, locale)}` : <span className="badge">{t('retention.active')}</span>}</td>
              <td>
                {!h.liftedAt && (
                  <button type="button" className="text-button danger" disabled={busy} onClick={() => setLifting(h)} data-testid="lift-hold">
                    {t('retention.lift')}
                  </button>
                )}
              </td>
            </tr>
        ))}
      </DataTable>
      {lifting && (
        <ConfirmDialog
          message={t('retention.confirmLift', { subject: subjectOf(lifting) })}
          confirmLabel={t('retention.lift')}
          onCancel={() => setLifting(null)}
          onConfirm={() => {
            const id = lifting.id;
            setLifting(null);
            void act(() => client.retention.liftHold.mutate({ id }), () => toast.show(t('retention.lifted')));
          }}
        />
      )}
    </div>
  );
}
