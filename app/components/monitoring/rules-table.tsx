'use client';

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ConfirmDialog } from '../confirm-dialog';
import { DataTable } from '../data-table';
import { IconButton, PencilIcon, TrashIcon } from '../icons';
import { useToast } from '../toast';
import { useI18n } from '../../i18n/provider';
import { SeverityBadge } from './alert-list';
import { formatDuration, KIND_UI } from './kinds';
import { useTRPC } from '../../lib/trpc';
import type { RuleInput, RuleView } from './views';
import { RuleForm } from './rule-form';

/** The rules, readable by engineers; admins create, edit, switch off and delete them. */
export function RulesTable({ rules, canEdit }: { rules: RuleView[]; canEdit: boolean }) {
  const { t } = useI18n();
  const toast = useToast();
  const [editing, setEditing] = useState<string | 'new' | null>(null);
  const [deleting, setDeleting] = useState<RuleView | null>(null);
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const changed = { onSuccess: () => queryClient.invalidateQueries(trpc.monitoring.rules.pathFilter()), onError: (err: unknown) => toast.error(err) };
  const createRule = useMutation(trpc.monitoring.createRule.mutationOptions(changed));
  const updateRule = useMutation(trpc.monitoring.updateRule.mutationOptions(changed));
  const deleteRule = useMutation(trpc.monitoring.deleteRule.mutationOptions(changed));

  const save = async (input: RuleInput, id?: string) => {
    try {
      if (id) await updateRule.mutateAsync({ ...input, id });
      else await createRule.mutateAsync(input);
    } catch {
      return; // shown by onError
    }
    toast.show(t('alerts.rules.saved'));
    setEditing(null);
  };
  const toggle = (rule: RuleView) => updateRule.mutate({ id: rule.id, enabled: !rule.enabled });
  const remove = (rule: RuleView) => {
    setDeleting(null);
    deleteRule.mutate({ id: rule.id });
  };

  return (
    <>
      {canEdit && editing !== 'new' && (
        <div>
          <button type="button" className="button" onClick={() => setEditing('new')} data-testid="new-rule">
            + {t('alerts.rules.new')}
          </button>
        </div>
      )}
      {editing === 'new' && <RuleForm onSubmit={(input) => save(input)} onCancel={() => setEditing(null)} />}
      <DataTable
        testId="rules-table"
        className="table table-dense"
        head={
          <>
            <th>{t('alerts.rules.enabled')}</th>
            <th>{t('alerts.rules.name')}</th>
            <th>{t('alerts.rules.kind')}</th>
            <th>{t('alerts.rules.duration')}</th>
            <th>{t('alerts.rules.severity')}</th>
            <th>{t('alerts.rules.scope')}</th>
            {canEdit && <th />}
          </>
        }
      >
        {rules.map((r) =>
          editing === r.id ? (
            <tr key={r.id}>
              <td colSpan={7}>
                <RuleForm rule={r} onSubmit={(input) => save(input, r.id)} onCancel={() => setEditing(null)} />
              </td>
            </tr>
          ) : (
            <tr key={r.id} className={r.enabled ? '' : 'rule-off'} data-testid="rule-row" data-kind={r.kind}>
              <td>
                <input type="checkbox" checked={r.enabled} disabled={!canEdit} onChange={() => toggle(r)} aria-label={t('alerts.rules.enabled')} data-testid="rule-enabled" />
              </td>
              <td>
                <strong>{r.name}</strong>
              </td>
              <td>
                {t(`alerts.kind.${r.kind}`)}{' '}
                <b className="nowrap">
                  {r.threshold}
                  {KIND_UI[r.kind].unit ? ` ${KIND_UI[r.kind].unit}` : ''}
                </b>
              </td>
              <td className="nowrap">
                {KIND_UI[r.kind].duration === 'hold'
                  ? r.durationSeconds === 0
                    ? t('alerts.rules.atOnce')
                    : t('alerts.rules.hold', { duration: formatDuration(r.durationSeconds) })
                  : t('alerts.rules.window', { duration: formatDuration(r.durationSeconds) })}
              </td>
              <td>
                <SeverityBadge severity={r.severity} />
              </td>
              <td className="muted">
                {Object.entries(r.scope).length ? Object.entries(r.scope).map(([k, v]) => <span key={k} className="chip">{`${k}=${v}`}</span>) : t('alerts.rules.scopeAll')}
              </td>
              {canEdit && (
                <td>
                  <span className="row-actions">
                    <IconButton label={t('alerts.rules.edit')} icon={<PencilIcon />} onClick={() => setEditing(r.id)} />
                    <IconButton label={t('alerts.rules.delete')} icon={<TrashIcon />} onClick={() => setDeleting(r)} />
                  </span>
                </td>
              )}
            </tr>
          ),
        )}
      </DataTable>
      {deleting && (
        <ConfirmDialog
          message={t('alerts.rules.deleteConfirm', { name: deleting.name })}
          confirmLabel={t('alerts.rules.delete')}
          onConfirm={() => remove(deleting)}
          onCancel={() => setDeleting(null)}
        />
      )}
    </>
  );
}
