/**
 * Whether a text could render differently as Markdown than as plain text. Errs towards yes: a false
 * "yes" only costs loading the renderer, a false "no" would show raw syntax. Covered: emphasis and
 * code (* _ ` ~), headings, quotes, lists, tables, links and images ([ ] < >), escapes, entities,
 * GFM autolinks (http://, www.), setext underlines and indented code.
 */
const MARKDOWN_SYNTAX = /[*_`~#>|[\]\\<]|&#?\w+;|https?:\/\/|www\.|^\s*(?:[-+]|\d+[.)])\s|^(?: {4}|\t)|^\s*[=-]{2,}\s*$/m;

export function needsMarkdown(text: string): boolean {
  return MARKDOWN_SYNTAX.test(text);
}

/** Plain text as the renderer would show it: paragraphs split on blank lines, line breaks kept. */
export function plainParagraphs(text: string): string[] {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter(Boolean);
}
