'use client';

import Link from 'next/link';
import { useSearchParams } from 'next/navigation';
import { Suspense, useEffect, useState } from 'react';
import { DeploymentForm } from '../../components/fleet/deployment-form';
import { ReadOnlyNote } from '../../components/fleet/fleet-gate';
import { fleetApi } from '../../components/fleet/fleet-api';
import { canManageFleet } from '../../components/fleet/roles';
import type { ModelView, NodeView } from '../../components/fleet/types';
import { useSession } from '../../components/session';
import { useToast } from '../../components/toast';
import { useI18n } from '../../i18n/provider';

export default function NewDeploymentPage() {
  return (
    <Suspense fallback={<div className="page-loading" aria-busy="true" />}>
      <NewDeployment />
    </Suspense>
  );
}

function NewDeployment() {
  const { t } = useI18n();
  const toast = useToast();
  const { me } = useSession();
  const params = useSearchParams();
  const [loaded, setLoaded] = useState<{ models: ModelView[]; nodes: NodeView[]; names: string[] } | null>(null);

  useEffect(() => {
    Promise.all([fleetApi.models(), fleetApi.nodes(), fleetApi.deployments()])
      .then(([models, nodes, deployments]) => setLoaded({ models, nodes, names: deployments.map((d) => d.name) }))
      .catch((err) => toast.error(err));
  }, [toast]);

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
