'use client';

import { useQueries } from '@tanstack/react-query';
import { useState } from 'react';
import { useI18n } from '../../i18n/provider';
import { useTRPC } from '../../lib/trpc';

interface CitationRef {
  n: number;
  chunkId: string;
  page: number | null;
}

/**
 * The sources under a reply that was given knowledge-base passages (metadata.citations: ids and page
 * only). Names and text are the document owner's content, read through knowledge.passage; a click
 * shows the passage itself.
 */
export function KnowledgeCitations({ citations }: { citations: unknown }) {
  const { t } = useI18n();
  const trpc = useTRPC();
  const refs = Array.isArray(citations) ? (citations as CitationRef[]).filter((c) => typeof c?.chunkId === 'string') : [];
  const passages = useQueries({ queries: refs.map((c) => ({ ...trpc.knowledge.passage.queryOptions({ chunkId: c.chunkId }), retry: false, staleTime: 60_000 })) });
  const [shown, setShown] = useState<number | null>(null);
  if (refs.length === 0) return null;
  const current = shown === null ? null : passages[shown];
  return (
    // A line of its own under the reply (the footer is a row of small controls).
    <div className="knowledge-citations" data-testid="knowledge-citations" style={{ flexBasis: '100%', order: -1 }}>
      <span className="muted">{t('knowledge.sources')}:</span>{' '}
      {refs.map((c, i) => {
        const p = passages[i]?.data;
        const where = [c.page !== null ? t('knowledge.page', { page: String(c.page) }) : '', p?.heading.join(' › ') ?? ''].filter(Boolean).join(', ');
        return (
          <button key={c.chunkId} type="button" className="text-button" onClick={() => setShown(shown === i ? null : i)} data-testid="knowledge-citation">
            [{c.n}] {p?.documentName ?? '…'}
            {where ? ` (${where})` : ''}
          </button>
        );
      })}
      {current && (
        <blockquote className="knowledge-passage" data-testid="knowledge-passage" style={{ whiteSpace: 'pre-wrap', margin: '6px 0', paddingLeft: 10, borderLeft: '3px solid currentColor' }}>
          {current.data ? current.data.text : current.error ? t('knowledge.passageGone') : '…'}
          <div>
            <button type="button" className="text-button" onClick={() => setShown(null)}>
              {t('knowledge.close')}
            </button>
          </div>
        </blockquote>
      )}
    </div>
  );
}
