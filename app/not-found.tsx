import { headers } from 'next/headers';
import { PAGE_DECISION_HEADER } from '../server/roles/page-decision';
import { NotFoundView } from './components/not-found-view';

/**
 * Rendered by Next for unknown paths, and by the server's page guard (server/roles/web-server.ts) for
 * another user's /c/<id> (404, "not found": its existence stays private) and for a page the role may
 * not open (403, "you do not have access").
 */
export default async function NotFound() {
  const forbidden = (await headers()).get(PAGE_DECISION_HEADER) === 'forbidden';
  return (
    <main className="centered-page">
      <NotFoundView kind={forbidden ? 'forbidden' : undefined} />
    </main>
  );
}
