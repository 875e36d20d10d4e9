import { parseDocx } from './docx';
import { parseHtml } from './html';
import { parseMarkdown } from './markdown';
import { parsePdf } from './pdf';
import { ParseError, type ParsedDocument } from './types';

export { ParseError, type ParsedDocument, type Section } from './types';

export const DOCUMENT_KINDS = {
  pdf: 'application/pdf',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  markdown: 'text/markdown',
  html: 'text/html',
  text: 'text/plain',
} as const;
export type DocumentKind = keyof typeof DOCUMENT_KINDS;

const BY_EXTENSION: Record<string, DocumentKind> = { pdf: 'pdf', docx: 'docx', md: 'markdown', markdown: 'markdown', html: 'html', htm: 'html', txt: 'text', text: 'text' };

/** The kind of an upload from its name's extension, else its declared type; null: not one we read. */
export function documentKind(name: string, mime?: string): DocumentKind | null {
  const ext = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase();
  if (ext && BY_EXTENSION[ext]) return BY_EXTENSION[ext];
  const found = Object.entries(DOCUMENT_KINDS).find(([, m]) => mime?.toLowerCase().startsWith(m));
  return (found?.[0] as DocumentKind | undefined) ?? null;
}

function utf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    throw new ParseError('The file is not UTF-8 text');
  }
}

/** Reads a document locally (nothing is fetched, nothing executed). */
export async function parseDocument(kind: DocumentKind, bytes: Uint8Array): Promise<ParsedDocument> {
  switch (kind) {
    case 'pdf':
      if (Buffer.from(bytes.subarray(0, 5)).toString('latin1') !== '%PDF-') throw new ParseError('The file is not a PDF (it does not start with %PDF-)');
      return parsePdf(bytes);
    case 'docx':
      if (bytes[0] !== 0x50 || bytes[1] !== 0x4b) throw new ParseError('The file is not a DOCX (not a zip archive)');
      return parseDocx(bytes);
    case 'markdown':
      return parseMarkdown(utf8(bytes));
    case 'html':
      return parseHtml(utf8(bytes));
    case 'text': {
      const text = utf8(bytes).trim();
      return { sections: text ? [{ text }] : [], pages: null };
    }
  }
}
