import type { ParsedDocument, Section } from './types';

/**
 * Markdown split at its ATX headings (`#`..`######`), each section carrying the path of headings above
 * it. Headings inside fenced code blocks are text, not structure.
 */
export function parseMarkdown(source: string): ParsedDocument {
  const sections: Section[] = [];
  const path: string[] = [];
  let lines: string[] = [];
  let fence: string | null = null;
  const flush = () => {
    const text = lines.join('\n').trim();
    if (text) sections.push({ text, heading: [...path] });
    lines = [];
  };
  for (const line of source.replace(/\r\n?/g, '\n').split('\n')) {
    const fenceMatch = /^\s{0,3}(```|~~~)/.exec(line);
    if (fenceMatch) fence = fence === null ? fenceMatch[1]! : fence === fenceMatch[1] ? null : fence;
    const heading = fence === null ? /^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$/.exec(line) : null;
    if (heading) {
      flush();
      const level = heading[1]!.length;
      path.length = Math.min(path.length, level - 1);
      while (path.length < level - 1) path.push('');
      path.push(heading[2]!.trim());
      continue;
    }
    lines.push(line);
  }
  flush();
  return { sections: sections.map((s) => ({ ...s, heading: s.heading!.filter(Boolean) })), pages: null };
}
