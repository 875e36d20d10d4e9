import type { ReactNode } from 'react';
import { ManageShell } from '../components/manage-shell';

export default function KnowledgeLayout({ children }: { children: ReactNode }) {
  return <ManageShell>{children}</ManageShell>;
}
