import mammoth from 'mammoth';
import { parseHtml } from './html';
import { ParseError, type ParsedDocument } from './types';

/** A DOCX through mammoth's HTML (headings kept as h1-h6, images left out), then read like HTML. */
export async function parseDocx(bytes: Uint8Array): Promise<ParsedDocument> {
  let html: string;
  try {
    ({ value: html } = await mammoth.convertToHtml({ buffer: Buffer.from(bytes) }, { convertImage: mammoth.images.imgElement(async () => ({ src: '' })) }));
  } catch (e) {
    throw new ParseError(`The DOCX could not be read: ${e instanceof Error ? e.message : String(e)}`);
  }
  return parseHtml(html);
}
