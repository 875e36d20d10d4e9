'use client';

import type { ReactNode } from 'react';
import { useI18n } from '../../i18n/provider';
import { useSession } from '../session';
import { canSeeFleet } from './roles';

/** Fleet pages are for engineers, admins and viewers; a chat user gets a plain refusal (the API refuses too). */
export function FleetGate({ children }: { children: ReactNode }) {
  const { t } = useI18n();
  const { me } = useSession();
  if (!canSeeFleet(me.role)) {
    return (
      <div className="manage-page">
        <p className="read-only-note" data-testid="fleet-forbidden">
          {t('common.forbidden')}
        </p>
      </div>
    );
  }
  return <>{children}</>;
}

/** The note viewers see above pages whose actions are hidden from them. */
export function ReadOnlyNote() {
  const { t } = useI18n();
  return (
    <p className="read-only-note" data-testid="read-only-note">
      {t('fleet.readOnly')}
    </p>
  );
}
