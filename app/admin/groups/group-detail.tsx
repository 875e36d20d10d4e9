'use client';

import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { DataTable } from '../../components/data-table';
import { useErrorToast, useToast } from '../../components/toast';
import { useI18n } from '../../i18n/provider';
import { useTRPC, type RouterOutputs } from '../../lib/trpc';

type Group = RouterOutputs['groups']['list'][number];

/** One group's members (with where each membership comes from), its links, and the deployments granted to it. */
export function GroupDetail({ group, onChanged }: { group: Group; onChanged: () => Promise<void> }) {
  const { t } = useI18n();
  const toast = useToast();
  const trpc = useTRPC();
  const members = useQuery(trpc.groups.members.queryOptions({ id: group.id }));
  useErrorToast(members.error);
  const people = useQuery(trpc.users.list.queryOptions());
  const deployments = useQuery(trpc.deployments.list.queryOptions());
  const settled = { onError: (err: unknown) => toast.error(err), onSettled: () => Promise.all([onChanged(), members.refetch()]) };
  const addMember = useMutation(trpc.groups.addMember.mutationOptions(settled));
  const removeMember = useMutation(trpc.groups.removeMember.mutationOptions(settled));
  const setLink = useMutation(trpc.groups.setLink.mutationOptions(settled));
  const setGrant = useMutation(trpc.groups.setGrant.mutationOptions(settled));
  const [link, setLinkForm] = useState({ source: 'oidc' as 'oidc' | 'ldap', external: '' });
  const memberIds = new Set(members.data?.map((m) => m.userId));
  const granted = new Set(group.deployments.map((d) => d.id));

  return (
    <div className="group-detail" data-testid="group-detail" style={{ display: 'grid', gap: 12 }}>
      <section>
        <h3>{t('groups.members')}</h3>
        <DataTable testId="group-members" head={<><th>{t('users.email')}</th><th>{t('users.role')}</th><th /><th /></>} columns={4} loading={!members.data && !members.error} empty={members.data?.length === 0 ? t('groups.noMembers') : undefined}>
          {members.data?.map((m) => (
            <tr key={m.userId} data-testid="group-member">
              <td>{m.email}</td>
              <td>{t(`role.${m.role as 'admin'}`)}</td>
              <td>
                {m.sources.map((s) => (
                  <span key={s} className="badge">
                    {t(`groups.source.${s as 'local'}`)}
                  </span>
                ))}
              </td>
              <td>
                {m.sources.includes('local') && (
                  <button type="button" className="text-button danger" disabled={removeMember.isPending} onClick={() => removeMember.mutate({ groupId: group.id, userId: m.userId })}>
                    {t('groups.removeMember')}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </DataTable>
        <PickAndAdd
          testId="group-add-member"
          label={t('groups.addMember')}
          options={(people.data ?? []).filter((u) => !memberIds.has(u.id)).map((u) => ({ id: u.id, label: u.email }))}
          busy={addMember.isPending}
          onAdd={(userId, done) => addMember.mutate({ groupId: group.id, userId }, { onSuccess: done })}
        />
      </section>

      <section>
        <h3>{t('groups.links')}</h3>
        {group.links.length === 0 && <p className="muted">{t('groups.noLinks')}</p>}
        <ul>
          {group.links.map((l) => (
            <li key={`${l.source}:${l.external}`}>
              {t(`groups.linkSource.${l.source}`)}: <code>{l.external}</code>{' '}
              <button type="button" className="text-button danger" onClick={() => setLink.mutate({ groupId: group.id, source: l.source, external: l.external, present: false })}>
                {t('groups.removeLink')}
              </button>
            </li>
          ))}
        </ul>
        <form
          className="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            setLink.mutate({ groupId: group.id, ...link, present: true }, { onSuccess: () => setLinkForm({ ...link, external: '' }) });
          }}
        >
          <select value={link.source} onChange={(e) => setLinkForm({ ...link, source: e.target.value as 'oidc' | 'ldap' })} aria-label={t('groups.linkSource')} data-testid="group-link-source">
            <option value="oidc">{t('groups.linkSource.oidc')}</option>
            <option value="ldap">{t('groups.linkSource.ldap')}</option>
          </select>
          <input value={link.external} maxLength={1000} placeholder={t('groups.linkValue')} onChange={(e) => setLinkForm({ ...link, external: e.target.value })} data-testid="group-link-value" />
          <button type="submit" className="button" disabled={!link.external.trim() || setLink.isPending} data-testid="group-add-link">
            {t('groups.addLink')}
          </button>
        </form>
      </section>

      <section>
        <h3>{t('groups.deployments')}</h3>
        {group.deployments.length === 0 && <p className="muted">{t('groups.noDeployments')}</p>}
        <ul>
          {group.deployments.map((d) => (
            <li key={d.id} data-testid="group-grant">
              {d.name}{' '}
              <button
                type="button"
                className="text-button danger"
                onClick={() =>
                  setGrant.mutate(
                    { groupId: group.id, deploymentId: d.id, granted: false },
                    { onSuccess: (r) => r.grantedGroups === 0 && toast.show(t('groups.nowOpen', { name: r.deployment })) },
                  )
                }
              >
                {t('groups.revoke')}
              </button>
            </li>
          ))}
        </ul>
        <PickAndAdd
          testId="group-grant-deployment"
          submitTestId="group-grant-submit"
          label={t('groups.grant')}
          options={(deployments.data ?? []).filter((d) => !granted.has(d.id)).map((d) => ({ id: d.id, label: d.name }))}
          busy={setGrant.isPending}
          onAdd={(deploymentId, done) => setGrant.mutate({ groupId: group.id, deploymentId, granted: true }, { onSuccess: done })}
        />
      </section>
    </div>
  );
}

/** A select of what may be added and its button; the choice clears once the addition succeeded. */
function PickAndAdd(props: {
  testId: string;
  submitTestId?: string;
  label: string;
  options: { id: string; label: string }[];
  busy: boolean;
  onAdd: (id: string, done: () => void) => void;
}) {
  const { t } = useI18n();
  const [chosen, setChosen] = useState('');
  return (
    <form
      className="inline-form"
      onSubmit={(e) => {
        e.preventDefault();
        props.onAdd(chosen, () => setChosen(''));
      }}
    >
      <select value={chosen} onChange={(e) => setChosen(e.target.value)} aria-label={props.label} data-testid={props.testId}>
        <option value="">{t('groups.choose')}</option>
        {props.options.map((o) => (
          <option key={o.id} value={o.id}>
            {o.label}
          </option>
        ))}
      </select>
      <button type="submit" className="button" disabled={!chosen || props.busy} data-testid={props.submitTestId ?? `${props.testId}-submit`}>
        {props.label}
      </button>
    </form>
  );
}
