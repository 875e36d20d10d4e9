'use client';

import { memo, type ComponentProps } from 'react';
import ReactMarkdown, { defaultUrlTransform, type Components } from 'react-markdown';
import rehypeHighlight from 'rehype-highlight';
import remarkGfm from 'remark-gfm';
import { useI18n } from '../../i18n/provider';

/**
 * The heavy part of ./markdown.tsx, in a chunk of its own that loads only when a message has Markdown
 * syntax. Renders model output and user text as Markdown, safely: there is deliberately no rehype-raw, so
 * any HTML in the text becomes visible text (react-markdown turns raw nodes into text), and URLs
 * pass react-markdown's transform, which empties javascript:, data: and other unsafe schemes.
 */
function safeUrl(url: string): string {
  const cleaned = defaultUrlTransform(url);
  return /^\s*(javascript|vbscript|data):/i.test(cleaned) ? '' : cleaned;
}

function SafeLink({ href, children }: ComponentProps<'a'> & { node?: unknown }) {
  if (!href) return <span className="md-dead-link">{children}</span>;
  return (
    <a href={href} target="_blank" rel="noopener noreferrer">
      {children}
    </a>
  );
}

/** Images become links: loading a URL chosen by model output would let a prompt leak data to any server. */
function ImageAsLink({ src, alt }: ComponentProps<'img'> & { node?: unknown }) {
  const { t } = useI18n();
  const label = `[${t('chat.image')}${alt ? `: ${alt}` : ''}]`;
  if (typeof src !== 'string' || !src) return <span>{label}</span>;
  return (
    <a href={src} target="_blank" rel="noopener noreferrer">
      {label}
    </a>
  );
}

const components: Components = { a: SafeLink, img: ImageAsLink };

const MarkdownRenderer = memo(function MarkdownRenderer({ text }: { text: string }) {
  return (
    <div className="markdown">
      <ReactMarkdown
        remarkPlugins={[remarkGfm]}
        rehypePlugins={[[rehypeHighlight, { detect: false }]]}
        urlTransform={safeUrl}
        components={components}
      >
        {text}
      </ReactMarkdown>
    </div>
  );
});

export default MarkdownRenderer;
