'use client';

import { useState } from 'react';
import { ConfirmDialog } from '../confirm-dialog';
import { PencilIcon, TrashIcon } from '../icons';
import { useToast } from '../toast';
import { useI18n } from '../../i18n/provider';
import { SeverityBadge } from './alert-list';
import { formatDuration, KIND_UI } from './kinds';
import { monitoringApi, type RuleInput, type RuleView } from './monitoring-api';
import { RuleForm } from './rule-form';

/** The rules, readable by engineers; admins create, edit, switch off and delete them. */
export function RulesTable({ rules, canEdit, reload }: { rules: RuleView[]; canEdit: boolean; reload(): void }) {
  const { t } = useI18n();
  const toast = useToast();
  const [editing, setEditing] = useState<string | 'new' | null>(null);
  const [deleting, setDeleting] = useState<RuleView | null>(null);

  const save = async (input: RuleInput, id?: string) => {
    try {
      if (id) await monitoringApi.updateRule({ ...input, id });
      else await monitoringApi.createRule(input);
      toast.show(t('alerts.rules.saved'));
      setEditing(null);
      reload();
    } catch (err) {
      toast.error(err);
    }
  };
  const toggle = async (rule: RuleView) => {
    try {
      await monitoringApi.updateRule({ id: rule.id, enabled: !rule.enabled });
      reload();
    } catch (err) {
      toast.error(err);
    }
  };
  const remove = async (rule: RuleView) => {
    setDeleting(null);
    try {
      await monitoringApi.deleteRule(rule.id);
      reload();
    } catch (err) {
      toast.error(err);
    }
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
      <div className="table-wrap">
        <table className="table table-dense" data-testid="rules-table">
          <thead>
            <tr>
              <th>{t('alerts.rules.enabled')}</th>
              <th>{t('alerts.rules.name')}</th>
              <th>{t('alerts.rules.kind')}</th>
              <th>{t('alerts.rules.duration')}</th>
              <th>{t('alerts.rules.severity')}</th>
              <th>{t('alerts.rules.scope')}</th>
              {canEdit && <th />}
            </tr>
          </thead>
          <tbody>
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
                        <button type="button" className="icon-button" onClick={() => setEditing(r.id)} aria-label={t('alerts.rules.edit')} title={t('alerts.rules.edit')}>
                          <PencilIcon />
                        </button>
                        <button type="button" className="icon-button" onClick={() => setDeleting(r)} aria-label={t('alerts.rules.delete')} title={t('alerts.rules.delete')}>
                          <TrashIcon />
                        </button>
                      </span>
                    </td>
                  )}
                </tr>
              ),
            )}
          </tbody>
        </table>
      </div>
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
