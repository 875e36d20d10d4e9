/** A stretch of a document's text with where it came from: a page (PDF) or a heading path (Markdown, HTML, DOCX). */
export interface Section {
  text: string;
  page?: number;
  heading?: string[];
}

export interface ParsedDocument {
  sections: Section[];
  /** PDF: its page count; otherwise null. */
  pages: number | null;
}

/** A document that cannot be read as the type it claims (a broken PDF, a DOCX that is no zip). */
export class ParseError extends Error {}
