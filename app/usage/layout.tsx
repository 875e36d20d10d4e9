import type { ReactNode } from 'react';
import '../components/fleet/fleet.css';
import { ManageShell } from '../components/manage-shell';
import './usage.css';

export default function UsageLayout({ children }: { children: ReactNode }) {
  return <ManageShell>{children}</ManageShell>;
}
