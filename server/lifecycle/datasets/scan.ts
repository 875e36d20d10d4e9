import { StringDecoder } from 'node:string_decoder';
import { findSensitive } from '../../security/pii/detect';
import { levelOfFindings, type Level, type ProtectionSettings } from '../../security/classification';

/** A line longer than this is scanned in pieces (an identifier cut at a piece's edge may be missed). */
const MAX_CARRY = 1 << 20;

/**
 * Counts sensitive findings over a whole uploaded file as it streams past (issue 13): chunks are decoded
 * as UTF-8 across their boundaries and scanned line by line, so an identifier is never cut in two by a
 * chunk edge. Keeps counts only; the text is dropped as soon as it is scanned.
 */
export function createDatasetScanner(settings: ProtectionSettings) {
  const decoder = new StringDecoder('utf8');
  const counts: Record<string, number> = {};
  let carry = '';

  function scan(text: string) {
    for (const f of findSensitive(text, settings.rules)) counts[f.type] = (counts[f.type] ?? 0) + 1;
  }

  return {
    push(chunk: Buffer) {
      const text = carry + decoder.write(chunk);
      const cut = text.lastIndexOf('\n');
      if (cut === -1 && text.length < MAX_CARRY) {
        carry = text;
        return;
      }
      const end = cut === -1 ? text.length : cut + 1;
      scan(text.slice(0, end));
      carry = text.slice(end);
    },
    finish(): { counts: Record<string, number>; level: Level } {
      scan(carry + decoder.end());
      carry = '';
      return { counts, level: levelOfFindings(counts, settings.levels) };
    },
  };
}

