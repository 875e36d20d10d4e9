'use client';

import type { ReactNode } from 'react';
import { canManageFleet } from '../../components/fleet/roles';
import { useSession } from '../../components/session';
import { useI18n } from '../../i18n/provider';

/** Dataset content is training data: engineers and admins only (the API refuses everyone else too). */
export function DatasetsGate({ children }: { children: ReactNode }) {
  const { t } = useI18n();
  const { me } = useSession();
  if (!canManageFleet(me.role))
    return (
      <div className="manage-page">
        <p className="read-only-note" data-testid="datasets-forbidden">
          {t('datasets.forbidden')}
        </p>
      </div>
    );
  return <>{children}</>;
}
