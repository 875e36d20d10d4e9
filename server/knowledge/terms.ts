import { createHmac } from 'node:crypto';

// Words too common to say anything about a passage (English; other languages are indexed whole).
const STOP = new Set(
  'a an and are as at be but by for from has have he her his i if in into is it its of on or our she so than that the their them then there these they this to was we were what when where which who why will with you your do does did not no can could would should how about'.split(' '),
);

/** A light plural fold, so "invoices" finds "invoice" (not a stemmer: it must never merge unrelated words). */
function fold(word: string): string {
  if (word.length > 4 && word.endsWith('ies')) return `${word.slice(0, -3)}y`;
  if (word.length > 3 && word.endsWith('s') && !word.endsWith('ss') && !word.endsWith('us') && !word.endsWith('is')) return word.slice(0, -1);
  return word;
}

/** The terms of a text: lower case, accents removed, split at anything not a letter or digit, stop words out. */
export function terms(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().split(/[^\p{L}\p{N}]+/u)) {
    if (raw.length < 2 || raw.length > 64 || STOP.has(raw)) continue;
    out.push(fold(raw));
  }
  return out;
}

/** The per-install key of the blind index, derived from the master key (every role agrees, nothing more to configure). */
export function blindIndexKey(masterKey: Buffer): Buffer {
  return createHmac('sha256', masterKey).update('enclave-knowledge-blind-index-v1').digest();
}

/**
 * A term as the database sees it: HMAC-SHA256 under the install's key, cut to 8 bytes (collisions among
 * a corpus's distinct terms stay negligible). PostgreSQL can match and count these, never read them;
 * what it does learn is which chunks share a term and how often, the usual price of a blind index.
 */
export function blindTerm(key: Buffer, term: string): Buffer {
  return createHmac('sha256', key).update(term).digest().subarray(0, 8);
}

/** Each distinct blind term of a text with its count, and the text's term count (BM25's length). */
export function blindTermCounts(key: Buffer, text: string): { counts: Map<string, { term: Buffer; tf: number }>; length: number } {
  const all = terms(text);
  const counts = new Map<string, { term: Buffer; tf: number }>();
  for (const t of all) {
    const entry = counts.get(t);
    if (entry) entry.tf++;
    else counts.set(t, { term: blindTerm(key, t), tf: 1 });
  }
  return { counts, length: all.length };
}
