import type { ReactNode } from 'react';
import '../components/fleet/fleet.css';
import './_components/datasets.css';
import { ManageShell } from '../components/manage-shell';
import { DatasetsGate } from './_components/datasets-gate';

export default function DatasetsLayout({ children }: { children: ReactNode }) {
  return (
    <ManageShell>
      <DatasetsGate>{children}</DatasetsGate>
    </ManageShell>
  );
}
