import type { ReactNode } from 'react';
import '../components/fleet/fleet.css';
import '../components/experiments/experiments.css';
import { FleetGate } from '../components/fleet/fleet-gate';
import { ManageShell } from '../components/manage-shell';

export default function ExperimentsLayout({ children }: { children: ReactNode }) {
  return (
    <ManageShell>
      <FleetGate>{children}</FleetGate>
    </ManageShell>
  );
}
