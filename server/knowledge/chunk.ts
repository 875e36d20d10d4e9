import type { Section } from './parse';

export interface Chunk {
  ordinal: number;
  text: string;
  page: number | null;
  heading: string[];
  /** Where it lies in the document's extracted text (its sections joined by a blank line). */
  charStart: number;
  charEnd: number;
}

export interface ChunkOptions {
  /** Longest chunk in characters. */
  size: number;
  /** Characters repeated from the end of one chunk at the start of the next (a sentence cut in two is found either way). */
  overlap: number;
}

export const DEFAULT_CHUNKING: ChunkOptions = { size: 700, overlap: 100 };

/** The best place at or before `end` to cut: a paragraph, then a sentence, then a word boundary. */
function cutPoint(text: string, start: number, end: number): number {
  if (end >= text.length) return text.length;
  const floor = start + Math.floor((end - start) / 2);
  for (const re of [/\n\s*\n/g, /[.!?。]\s/g, /\s/g]) {
    let best = -1;
    re.lastIndex = floor;
    for (let m = re.exec(text); m && m.index < end; m = re.exec(text)) best = m.index + m[0].length;
    if (best > floor) return best;
  }
  return end;
}

/** Splits sections into chunks that never cross a section (a page or a heading), each with its position. */
export function chunkSections(sections: Section[], options: ChunkOptions = DEFAULT_CHUNKING): Chunk[] {
  if (options.overlap >= options.size) throw new Error('chunk overlap must be smaller than the chunk size');
  const chunks: Chunk[] = [];
  let offset = 0;
  for (const section of sections) {
    const text = section.text;
    let start = 0;
    while (start < text.length) {
      const end = cutPoint(text, start, start + options.size);
      const piece = text.slice(start, end);
      const lead = piece.length - piece.trimStart().length;
      const body = piece.trim();
      if (body) {
        chunks.push({ ordinal: chunks.length, text: body, page: section.page ?? null, heading: section.heading ?? [], charStart: offset + start + lead, charEnd: offset + start + lead + body.length });
      }
      if (end >= text.length) break;
      // Step back by the overlap, to a word boundary, but always forward.
      let next = Math.max(start + 1, end - options.overlap);
      const space = text.indexOf(' ', next);
      if (space !== -1 && space < end) next = space + 1;
      start = next;
    }
    offset += text.length + 2;
  }
  return chunks;
}
