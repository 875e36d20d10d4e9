import type { IncomingMessage } from 'node:http';
import type { Db } from '../db/client';
import { conversationBelongsTo } from '../chat/conversations';
import { getUserByToken, sessionToken } from '../security/sessions';
import { pageAllowed } from './page-rules';

export type PageDecision = { kind: 'next' } | { kind: 'redirect'; location: string } | { kind: 'not-found' } | { kind: 'forbidden' };

function isPublicAsset(pathname: string): boolean {
  return pathname.startsWith('/_next/') || pathname === '/favicon.ico';
}

/** Only same-site paths may be a post-sign-in destination: `//evil.example` would leave the site. */
export function safeNextPath(value: string | null | undefined): string {
  if (!value || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/';
  return value;
}

/**
 * The server-side check in front of every page: pages are client components, so this is where
 * sign-in, ownership and role are enforced before any HTML is sent. Someone else's conversation is
 * "not found", exactly like a missing one, so its existence is not revealed.
 */
export async function guardPage(db: Db, req: Pick<IncomingMessage, 'headers' | 'url'>, pathname: string): Promise<PageDecision> {
  if (isPublicAsset(pathname)) return { kind: 'next' };
  // Not getSessionUser: a one-time password's session is let through, to the account page only (below).
  const user = await getUserByToken(db, sessionToken(req));
  if (pathname === '/login') return user ? { kind: 'redirect', location: '/' } : { kind: 'next' };
  if (!user) return { kind: 'redirect', location: `/login?next=${encodeURIComponent(safeNextPath(req.url ?? pathname))}` };
  // A one-time password: the account page (change it, or sign out) is the only page until it is changed.
  if (user.mustChangePassword && pathname !== '/account') return { kind: 'redirect', location: '/account' };

  const conversation = /^\/c\/([^/]*)\/?$/.exec(pathname);
  if (conversation) return (await conversationBelongsTo(db, user.id, decodeSafely(conversation[1]!))) ? { kind: 'next' } : { kind: 'not-found' };
  if (pathname.startsWith('/c/')) return { kind: 'not-found' };
  // Admin pages for admins; fleet pages for engineers, admins and (reading) viewers: page-rules.ts, which the navigation reads too.
  if (!pageAllowed(pathname, user.role)) return { kind: 'forbidden' };
  return { kind: 'next' };
}

function decodeSafely(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return '';
  }
}

