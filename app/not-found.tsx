'use client';

import { NotFoundView } from './components/not-found-view';

/** Rendered by Next for unknown paths and by the server for another user's /c/<id>. */
export default function NotFound() {
  return (
    <main className="centered-page">
      <NotFoundView />
    </main>
  );
}
