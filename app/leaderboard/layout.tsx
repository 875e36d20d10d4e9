import type { ReactNode } from 'react';
import { ManageShell } from '../components/manage-shell';

/** Every role sees the leaderboard (it is not in the page guard's fleet list). */
export default function LeaderboardLayout({ children }: { children: ReactNode }) {
  return <ManageShell>{children}</ManageShell>;
}
