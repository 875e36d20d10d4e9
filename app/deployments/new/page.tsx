'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useSearchParams } from 'next/navigation';
import { Suspense } from 'react';
import { DeploymentForm } from '../../components/fleet/deployment-form';
import { ReadOnlyNote } from '../../components/fleet/fleet-gate';
import { canManageFleet } from '../../components/fleet/roles';
import { useSession } from '../../components/session';
import { useErrorToast } from '../../components/toast';
import { useI18n } from '../../i18n/provider';
import { useTRPC } from '../../lib/trpc';

export default function NewDeploymentPage() {
  return (
    <Suspense fallback={<div className="page-loading" aria-busy="true" />}>
      <NewDeployment />
    </Suspense>
  );
}

function NewDeployment() {
  const { t } = useI18n();
  const { me } = useSession();
  const params = useSearchParams();
  const trpc = useTRPC();
  const models = useQuery(trpc.catalog.list.queryOptions());
  const nodes = useQuery(trpc.fleet.nodes.queryOptions());
  const deployments = useQuery(trpc.deployments.list.queryOptions());
  useErrorToast(models.error ?? nodes.error ?? deployments.error);
  const loaded = models.data && nodes.data && deployments.data ? { models: models.data, nodes: nodes.data, names: deployments.data.map((d) => d.name) } : null;

  return (
    <div className="manage-page fleet-page">
      <div className="page-head">
        <h1>{t('form.title')}</h1>
        <span className="spacer" />
        <Link href="/deployments">← {t('deployments.backToList')}</Link>
      </div>
      {!canManageFleet(me.role) ? (
        <ReadOnlyNote />
      ) : loaded ? (
        <DeploymentForm models={loaded.models} nodes={loaded.nodes} existingNames={loaded.names} initialVersionId={params.get('modelVersionId') ?? params.get('version')} />
      ) : (
        <p className="muted">{t('common.loading')}</p>
      )}
    </div>
  );
}
