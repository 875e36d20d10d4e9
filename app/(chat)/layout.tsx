import type { ReactNode } from 'react';
import { ChatWorkspace } from '../components/chat/workspace';
import { SessionProvider } from '../components/session';

/** "/" and "/c/<id>" share one mounted workspace (see ChatWorkspace); the pages themselves are empty. */
export default function ChatLayout({ children }: { children: ReactNode }) {
  return (
    <SessionProvider>
      <ChatWorkspace />
      {children}
    </SessionProvider>
  );
}
