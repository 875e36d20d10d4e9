'use client';

import { ArenaScreen } from '../../components/arena/arena-screen';

/** The blind side-by-side arena; the chat layout's sidebar stays beside it. */
export default function ArenaPage() {
  return <ArenaScreen />;
}
