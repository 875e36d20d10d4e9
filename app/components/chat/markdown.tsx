'use client';

import { lazy, memo, Suspense } from 'react';
import { needsMarkdown, plainParagraphs } from './markdown-syntax';

/**
 * A message's text. Plain text (most short replies) renders as paragraphs without loading anything;
 * only a text with Markdown syntax loads the renderer (react-markdown, GFM, highlight.js: the
 * biggest part of the chat's script) as a chunk of its own. While it loads, the plain text shows.
 */
const MarkdownRenderer = lazy(() => import('./markdown-renderer'));

function Plain({ text }: { text: string }) {
  return (
    <div className="markdown markdown-plain">
      {plainParagraphs(text).map((p, i) => (
        <p key={i}>{p}</p>
      ))}
    </div>
  );
}

export const Markdown = memo(function Markdown({ text }: { text: string }) {
  if (!needsMarkdown(text)) return <Plain text={text} />;
  return (
    <Suspense fallback={<Plain text={text} />}>
      <MarkdownRenderer text={text} />
    </Suspense>
  );
});
