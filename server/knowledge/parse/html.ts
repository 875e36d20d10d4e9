import type { ParsedDocument, Section } from './types';

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', mdash: '—', ndash: '–', hellip: '…', rsquo: '’', lsquo: '‘', rdquo: '”', ldquo: '“' };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (all, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '';
    }
    return NAMED[name.toLowerCase()] ?? all;
  });
}

const BLOCK = /^(p|div|br|li|tr|td|th|section|article|header|footer|blockquote|pre|table|ul|ol|dd|dt|figcaption|hr)$/i;

/**
 * Text out of HTML without running or keeping any of it: script, style, template and comments dropped
 * whole, every other tag removed (block tags become line breaks), entities decoded. h1-h6 start a new
 * section with its heading path. A tokenizer, not regex replacement over the whole page, so a `>` in an
 * attribute or an unclosed tag never lets markup through.
 */
export function parseHtml(source: string): ParsedDocument {
  const sections: Section[] = [];
  const path: string[] = [];
  let buffer = '';
  let headingLevel = 0;
  let headingText = '';
  const flush = () => {
    const text = decodeEntities(buffer).replace(/[ \t\f\v\u00a0]+/g, ' ').replace(/ *\n[\n ]*/g, '\n').trim();
    if (text) sections.push({ text, heading: [...path].filter(Boolean) });
    buffer = '';
  };
  let i = 0;
  while (i < source.length) {
    const lt = source.indexOf('<', i);
    const chunk = source.slice(i, lt === -1 ? source.length : lt);
    if (headingLevel) headingText += chunk;
    else buffer += chunk;
    if (lt === -1) break;
    if (source.startsWith('<!--', lt)) {
      const end = source.indexOf('-->', lt + 4);
      i = end === -1 ? source.length : end + 3;
      continue;
    }
    const tag = /^<\/?([a-zA-Z][a-zA-Z0-9-]*)/.exec(source.slice(lt, lt + 40));
    // The end of the tag: the first '>' outside quotes.
    let j = lt + 1;
    let quote: string | null = null;
    for (; j < source.length; j++) {
      const c = source[j]!;
      if (quote) {
        if (c === quote) quote = null;
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '>') break;
    }
    i = j + 1;
    if (!tag) continue;
    const name = tag[1]!.toLowerCase();
    const closing = source[lt + 1] === '/';
    if (!closing && (name === 'script' || name === 'style' || name === 'template' || name === 'noscript')) {
      const end = source.toLowerCase().indexOf(`</${name}`, i);
      i = end === -1 ? source.length : end;
      continue;
    }
    const level = /^h([1-6])$/.exec(name);
    if (level && !closing) {
      flush();
      headingLevel = Number(level[1]);
      headingText = '';
    } else if (level && closing && headingLevel) {
      path.length = Math.min(path.length, headingLevel - 1);
      while (path.length < headingLevel - 1) path.push('');
      path.push(decodeEntities(headingText).replace(/\s+/g, ' ').trim());
      headingLevel = 0;
    } else if (BLOCK.test(name)) {
      if (headingLevel) headingText += ' ';
      else buffer += '\n';
    }
  }
  flush();
  return { sections, pages: null };
}
