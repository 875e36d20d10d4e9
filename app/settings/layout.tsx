import type { ReactNode } from 'react';
import { ManageShell } from '../components/manage-shell';

export default function SettingsLayout({ children }: { children: ReactNode }) {
  return <ManageShell>{children}</ManageShell>;
}
