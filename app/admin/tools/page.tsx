'use client';

import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ConfirmDialog } from '../../components/confirm-dialog';
import { useErrorToast, useToast } from '../../components/toast';
import { useBusyAction } from '../../components/use-busy-action';
import { useI18n } from '../../i18n/provider';
import { useTRPC, useTRPCClient, type RouterOutputs } from '../../lib/trpc';
import { ToolForm, type ToolFormValues } from './tool-form';

type Tool = RouterOutputs['tools']['list'][number];

/**
 * /admin/tools (issue 16, part 7): the plugins the chat's model may call, each an HTTP endpoint with a
 * JSON-schema signature, a signing secret (write-only), limits, and the groups it is granted to.
 */
export default function ToolsPage() {
  const { t } = useI18n();
  const toast = useToast();
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  const list = useQuery(trpc.tools.list.queryOptions());
  const groups = useQuery(trpc.groups.list.queryOptions());
  useErrorToast(list.error ?? groups.error);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.tools.list.queryKey() });
  const { busy, act } = useBusyAction(refresh);
  const [editing, setEditing] = useState<Tool | 'new' | null>(null);
  const [deleting, setDeleting] = useState<Tool | null>(null);

  const save = (v: ToolFormValues) => {
    const tool = editing === 'new' ? null : editing;
    const schema = v.isOpenApi ? { openapi: v.schemaText } : { parameters: v.schemaText };
    const fields = { name: v.name.trim(), description: v.description, endpoint: v.endpoint.trim(), timeoutMs: v.timeoutMs, maxResponseBytes: v.maxResponseBytes, enabled: v.enabled, ...schema };
    void act(
      async () => {
        const saved = tool
          ? await client.tools.update.mutate({ id: tool.id, ...fields, ...(v.secret ? { secret: v.secret } : {}) })
          : await client.tools.create.mutate({ ...fields, secret: v.secret });
        // Grants follow the checkboxes: add the new ones, take away the unticked.
        for (const groupId of v.groupIds.filter((g) => !saved.groupIds.includes(g))) await client.tools.grant.mutate({ toolId: saved.id, groupId });
        for (const groupId of saved.groupIds.filter((g) => !v.groupIds.includes(g))) await client.tools.revoke.mutate({ toolId: saved.id, groupId });
      },
      () => {
        toast.show(t('tools.saved'));
        setEditing(null);
      },
    );
  };
  const groupName = (id: string) => groups.data?.find((g) => g.id === id)?.name ?? id;

  return (
    <div className="manage-page" data-testid="tools-page">
      <h1>{t('tools.title')}</h1>
      <p className="muted">{t('tools.hint')}</p>
      {editing ? (
        <ToolForm key={editing === 'new' ? 'new' : editing.id} tool={editing === 'new' ? null : editing} groups={groups.data ?? []} busy={busy} onSave={save} onCancel={() => setEditing(null)} />
      ) : (
        <button type="button" className="button button-primary" onClick={() => setEditing('new')} data-testid="tool-new">
          {t('tools.new')}
        </button>
      )}
      {list.data?.length === 0 && <p className="muted">{t('tools.none')}</p>}
      {!!list.data?.length && (
        <div className="table-wrap">
          <table className="data-table" data-testid="tools-table">
            <thead>
              <tr>
                <th>{t('tools.name')}</th>
                <th>{t('tools.endpoint')}</th>
                <th>{t('tools.groups')}</th>
                <th>{t('tools.enabled')}</th>
                <th>{t('tools.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((tool) => (
                <tr key={tool.id} data-testid="tool-row">
                  <td>
                    <strong>{tool.name}</strong>
                    <div className="muted">{tool.description}</div>
                  </td>
                  <td className="mono">{tool.endpoint}</td>
                  <td>{tool.groupIds.map(groupName).join(', ')}</td>
                  <td>{tool.enabled ? t('tools.status.on') : t('tools.status.off')}</td>
                  <td>
                    <button type="button" className="text-button" onClick={() => setEditing(tool)} data-testid="tool-edit">
                      {t('tools.edit', { name: '' }).trim()}
                    </button>{' '}
                    <button type="button" className="text-button" onClick={() => setDeleting(tool)} data-testid="tool-delete">
                      {t('tools.delete')}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {deleting && (
        <ConfirmDialog
          message={t('tools.deleteConfirm', { name: deleting.name })}
          confirmLabel={t('tools.delete')}
          onCancel={() => setDeleting(null)}
          onConfirm={() => {
            const id = deleting.id;
            setDeleting(null);
            void act(() => client.tools.delete.mutate({ id }));
          }}
        />
      )}
    </div>
  );
}
