import { extractText, getDocumentProxy } from 'unpdf';
import { ParseError, type ParsedDocument } from './types';

/** A PDF's text page by page (unpdf's bundled pdf.js; no worker, no network, no fonts fetched). */
export async function parsePdf(bytes: Uint8Array): Promise<ParsedDocument> {
  let pages: string[];
  let total: number;
  try {
    // pdf.js takes ownership of the buffer it is given: a copy keeps the caller's bytes intact.
    const pdf = await getDocumentProxy(new Uint8Array(bytes), { isEvalSupported: false, useSystemFonts: false, stopAtErrors: false, verbosity: 0 });
    const out = await extractText(pdf, { mergePages: false });
    pages = out.text;
    total = out.totalPages;
    await pdf.destroy();
  } catch (e) {
    throw new ParseError(`The PDF could not be read: ${e instanceof Error ? e.message : String(e)}`);
  }
  return {
    sections: pages.map((text, i) => ({ text: text.replace(/[ \t]+/g, ' ').trim(), page: i + 1 })).filter((s) => s.text.length > 0),
    pages: total,
  };
}
