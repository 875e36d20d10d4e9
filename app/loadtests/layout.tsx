import type { ReactNode } from 'react';
import '../components/fleet/fleet.css';
import '../components/loadtests/loadtests.css';
import { FleetGate } from '../components/fleet/fleet-gate';
import { ManageShell } from '../components/manage-shell';

export default function LoadTestsLayout({ children }: { children: ReactNode }) {
  return (
    <ManageShell>
      <FleetGate>{children}</FleetGate>
    </ManageShell>
  );
}
