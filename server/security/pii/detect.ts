import { isIPv6 } from 'node:net';
import { isBankCard, isChinaLandline, isChinaMobile, isChineseId15, isChineseId18, isE164 } from './identifiers';

/**
 * Finds personal data in text: e-mail addresses, phone numbers, Chinese resident identity numbers, bank
 * card numbers, passport numbers, IP addresses, and the organisation's own patterns and keywords.
 *
 * Pure and synchronous, for the hot path: the built-in detectors are hand-written scans, not regular
 * expressions, so text without digits, '@' or ':' costs one native indexOf per marker plus a tight loop
 * over character codes, and no input can make them backtrack. A candidate is reported only when its
 * check digit, checksum, date or octets hold: a wrong check digit is not an identity number, 999.1.1.1 is
 * not an address, an order number is not a card.
 *
 * Offsets are for masking only. Callers store types and counts (countFindings), never the matched text.
 */
export type BuiltInFindingType = 'email' | 'phone' | 'cn_id' | 'bank_card' | 'passport' | 'ipv4' | 'ipv6';
export type FindingType = BuiltInFindingType | `custom:${string}`;
export const BUILT_IN_FINDING_TYPES: readonly BuiltInFindingType[] = ['email', 'phone', 'cn_id', 'bank_card', 'passport', 'ipv4', 'ipv6'];

export interface Finding {
  type: FindingType;
  start: number;
  end: number;
}

/** An organisation-defined rule, compiled (rules.ts compiles and vets what admins save). */
export interface CustomRule {
  /** The finding type is `custom:<name>`. */
  name: string;
  /** Global ('g') expression; keyword lists are compiled to one alternation of escaped words. */
  regex: RegExp;
}
export interface CustomRules {
  rules: readonly CustomRule[];
}

/** At most this many matches per custom rule and text: a rule matching every character cannot flood memory. */
const MAX_CUSTOM_MATCHES = 10_000;

const isDigit = (c: number) => c >= 48 && c <= 57;
/** ASCII letters and digits: an identifier glued to them is part of a longer word (a hash, a product code). */
const isWordChar = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isHex = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
// RFC 5322's dot-atom, less the rarely used symbols that more often border an address than belong to it.
const isLocalChar = (c: number) => isWordChar(c) || c === 46 || c === 37 || c === 43 || c === 45;
const isDomainChar = (c: number) => isWordChar(c) || c === 46 || c === 45;

export function findSensitive(text: string, custom?: CustomRules): Finding[] {
  const out: Finding[] = [];
  if (text.indexOf('@') !== -1) scanEmails(text, out);
  if (text.indexOf(':') !== -1) scanIPv6(text, out);
  scanNumbers(text, out);
  if (custom) for (const rule of custom.rules) scanCustom(text, rule, out);
  return out.length > 1 ? withoutOverlaps(out) : out;
}

/** Finding type → how many times it occurs. */
export function countFindings(findings: readonly Finding[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const f of findings) counts[f.type] = (counts[f.type] ?? 0) + 1;
  return counts;
}

const LABELS: Record<BuiltInFindingType, string> = {
  email: '[EMAIL]',
  phone: '[PHONE]',
  cn_id: '[ID_NUMBER]',
  bank_card: '[BANK_CARD]',
  passport: '[PASSPORT]',
  ipv4: '[IP_ADDRESS]',
  ipv6: '[IP_ADDRESS]',
};

export function maskLabel(type: FindingType): string {
  return type.startsWith('custom:') ? `[CUSTOM:${type.slice(7)}]` : LABELS[type as BuiltInFindingType];
}

/** The text with each finding replaced by its label ([EMAIL], [ID_NUMBER], [CUSTOM:<name>]...). Findings as findSensitive returns them: sorted, not overlapping. */
export function maskFindings(text: string, findings: readonly Finding[]): string {
  if (findings.length === 0) return text;
  let result = '';
  let at = 0;
  for (const f of findings) {
    if (f.start < at) continue;
    result += text.slice(at, f.start) + maskLabel(f.type);
    at = f.end;
  }
  return result + text.slice(at);
}

/** Sorted by start; where two overlap the one starting first (or, at a tie, the longer) is kept. */
function withoutOverlaps(findings: Finding[]): Finding[] {
  findings.sort((a, b) => a.start - b.start || b.end - a.end);
  const kept: Finding[] = [];
  let end = -1;
  for (const f of findings) {
    if (f.start < end) continue;
    kept.push(f);
    end = f.end;
  }
  return kept;
}

function scanEmails(text: string, out: Finding[]) {
  const n = text.length;
  for (let at = text.indexOf('@'); at !== -1; ) {
    let a = at;
    while (a > 0 && at - a < 64 && isLocalChar(text.charCodeAt(a - 1))) a--;
    while (a < at && text.charCodeAt(a) === 46) a++; // a local part does not start with a dot
    let b = at + 1;
    while (b < n && b - at <= 253 && isDomainChar(text.charCodeAt(b))) b++;
    while (b > at + 1 && (text.charCodeAt(b - 1) === 46 || text.charCodeAt(b - 1) === 45)) b--; // "write to a@b.com."
    if (a < at && text.charCodeAt(at - 1) !== 46 && validDomain(text.slice(at + 1, b))) out.push({ type: 'email', start: a, end: b });
    at = text.indexOf('@', Math.max(b, at + 1));
  }
}

function validDomain(domain: string): boolean {
  const labels = domain.split('.');
  if (labels.length < 2) return false;
  for (const l of labels) {
    if (l.length === 0 || l.length > 63 || l.charCodeAt(0) === 45 || l.charCodeAt(l.length - 1) === 45) return false;
  }
  return /^[A-Za-z]{2,24}$/.test(labels[labels.length - 1]!);
}

function scanIPv6(text: string, out: Finding[]) {
  const n = text.length;
  for (let c = text.indexOf(':'); c !== -1; ) {
    const before = c > 0 ? text.charCodeAt(c - 1) : 0;
    const after = c + 1 < n ? text.charCodeAt(c + 1) : 0;
    let next = c + 1;
    // Most colons in prose ("Note: ...") have a space after them and no hex digit before.
    if (isHex(before) || isHex(after) || after === 58) {
      let colons = 1;
      let a = c;
      while (a > 0 && c - a < 40) {
        const x = text.charCodeAt(a - 1);
        if (x === 58) colons++;
        else if (!isHex(x)) break;
        a--;
      }
      let b = c + 1;
      // Dots only for an IPv4 tail (::ffff:192.0.2.1).
      while (b < n && b - a < 46) {
        const x = text.charCodeAt(b);
        if (x === 58) colons++;
        else if (!isHex(x) && x !== 46) break;
        b++;
      }
      while (b > c + 1 && text.charCodeAt(b - 1) === 46) b--;
      const bounded = (a === 0 || !isWordChar(text.charCodeAt(a - 1))) && (b === n || !isWordChar(text.charCodeAt(b)));
      if (bounded && colons >= 2) {
        const candidate = text.slice(a, b);
        // A decimal digit required: "a::b" (C++ scope) is a valid address but almost never meant as one.
        if (/[0-9]/.test(candidate) && isIPv6(candidate)) out.push({ type: 'ipv6', start: a, end: b });
      }
      next = Math.max(b, c + 1);
    }
    c = text.indexOf(':', next);
  }
}

/**
 * Where an identifier could start: seven digits in a row, or a digit, a separator (space, hyphen, dot) and
 * a digit. Found by the regex engine's native scan, so prose and the short numbers in it (a year, 12.5%,
 * 3:30) cost no JavaScript; each hit is then read as a whole number token by the code below.
 */
const CANDIDATE = /[0-9](?:[0-9]{6}|[ .-][0-9])/g;

function scanNumbers(text: string, out: Finding[]) {
  const n = text.length;
  let from = 0;
  while (from < n) {
    CANDIDATE.lastIndex = from;
    const m = CANDIDATE.exec(text);
    if (!m) return;
    // The number token starts at the first digit of its run (the scan found its first interesting place).
    let i = m.index;
    while (i > from && isDigit(text.charCodeAt(i - 1))) i--;
    const prev = i > 0 ? text.charCodeAt(i - 1) : 0;
    if (isWordChar(prev)) {
      // Digits glued to a word: only a passport number (E12345678) counts; skip the rest of the word.
      passport(text, i, out);
      while (i < n && isWordChar(text.charCodeAt(i))) i++;
      from = Math.max(i, m.index + 1);
      continue;
    }
    from = Math.max(numberToken(text, i, out), m.index + 1);
  }
}

/**
 * Chinese ordinary passports: E + 8 digits, E + a letter (not I or O) + 7 digits, and the older G + 8
 * digits; uppercase and standing alone. Other countries' passport numbers look like any other code and
 * are left to custom rules.
 */
function passport(text: string, digitsAt: number, out: Finding[]) {
  let e = digitsAt;
  while (e < text.length && isDigit(text.charCodeAt(e))) e++;
  if (e < text.length && isWordChar(text.charCodeAt(e))) return;
  const len = e - digitsAt;
  const p1 = text.charCodeAt(digitsAt - 1);
  let start = -1;
  if (len === 8 && (p1 === 69 /* E */ || p1 === 71) /* G */) start = digitsAt - 1;
  else if (len === 7 && p1 >= 65 && p1 <= 90 && p1 !== 73 && p1 !== 79 && text.charCodeAt(digitsAt - 2) === 69) start = digitsAt - 2;
  if (start === -1 || (start > 0 && isWordChar(text.charCodeAt(start - 1)))) return;
  out.push({ type: 'passport', start, end: e });
}

/**
 * One number starting at `s` (not glued to a word): digit groups joined by single spaces or hyphens
 * (138-0013-8000, 6222 0202 0001 2345, 010-12345678), a dotted quad, or a '+' E.164 number. Returns where
 * it ends; the caller resumes there.
 */
function numberToken(text: string, s: number, out: Finding[]): number {
  const n = text.length;
  // Most numbers in prose stand alone (a year, an amount, a count): decided without building groups.
  let first = s;
  while (first < n && isDigit(text.charCodeAt(first))) first++;
  const after = first < n ? text.charCodeAt(first) : 0;
  const digitNext = first + 1 < n && isDigit(text.charCodeAt(first + 1));
  const plus = s > 0 && text.charCodeAt(s - 1) === 43 && (s < 2 || !isWordChar(text.charCodeAt(s - 2)));
  if (after === 46 && digitNext) {
    if (first - s <= 3) return dotted(text, s, out);
    let e = first; // a decimal or a version: not an address, skip it whole
    while (e < n && (isDigit(text.charCodeAt(e)) || (text.charCodeAt(e) === 46 && e + 1 < n && isDigit(text.charCodeAt(e + 1))))) e++;
    return e;
  }
  if (!plus && !((after === 32 || after === 45) && digitNext)) {
    single(text, s, first, out);
    return first;
  }
  if (!plus && !mayHoldNumber(text, first)) {
    // Groups too short to make a phone or a card (a date, a time range): skip them whole.
    let e = first;
    while (e + 1 < n && (text.charCodeAt(e) === 32 || text.charCodeAt(e) === 45) && isDigit(text.charCodeAt(e + 1))) {
      e++;
      while (e < n && isDigit(text.charCodeAt(e))) e++;
    }
    return e;
  }
  const starts: number[] = [];
  const ends: number[] = [];
  let j = s;
  for (;;) {
    let e = j;
    while (e < n && isDigit(text.charCodeAt(e))) e++;
    const c = e < n ? text.charCodeAt(e) : 0;
    if (c === 46 && e + 1 < n && isDigit(text.charCodeAt(e + 1))) {
      if (starts.length === 0) return dotted(text, s, out);
      break; // "call 138 10.0.0.1": the dotted part is a token of its own
    }
    starts.push(j);
    ends.push(e);
    if ((c === 32 || c === 45) && e + 1 < n && isDigit(text.charCodeAt(e + 1)) && starts.length < 6) {
      j = e + 1;
      continue;
    }
    break;
  }
  const end = ends[ends.length - 1]!;
  const endsClean = end >= n || !isWordChar(text.charCodeAt(end));
  if (plus || starts.length > 1) {
    let digits = '';
    for (let g = 0; g < starts.length; g++) digits += text.slice(starts[g], ends[g]);
    if (endsClean) {
      if (plus) {
        if (isE164(digits)) out.push({ type: 'phone', start: s - 1, end });
        return end;
      }
      const type = groupedType(text, starts, ends, digits);
      if (type) {
        out.push({ type, start: s, end });
        return end;
      }
    }
    // Not one number: maybe several (a date, "call 13800138000 2 times"); each group on its own.
    for (let g = 0; g < starts.length; g++) single(text, starts[g]!, ends[g]!, out);
    return end;
  }
  single(text, s, end, out);
  return end;
}

/**
 * Whether digit groups joined by spaces or hyphens from `first` on (the first group ends there) could
 * make 10 or more digits, or a group of 11 or more: the least a landline, a mobile or a card needs.
 */
function mayHoldNumber(text: string, first: number): boolean {
  const n = text.length;
  let s = first - 1;
  while (s >= 0 && isDigit(text.charCodeAt(s))) s--;
  let total = first - s - 1;
  let e = first;
  for (let groups = 1; groups < 6 && e + 1 < n && (text.charCodeAt(e) === 32 || text.charCodeAt(e) === 45) && isDigit(text.charCodeAt(e + 1)); groups++) {
    const g = ++e;
    while (e < n && isDigit(text.charCodeAt(e))) e++;
    total += e - g;
    if (total >= 10) return true;
  }
  return total >= 10;
}

function groupedType(text: string, starts: number[], ends: number[], digits: string): Finding['type'] | null {
  const lengths = starts.map((st, g) => ends[g]! - st);
  if (lengths.length === 2 && isChinaLandline(text.slice(starts[0], ends[0]), text.slice(starts[1], ends[1]))) return 'phone';
  if (isChinaMobile(digits) && (lengths.join() === '3,4,4' || lengths.join() === '3,8')) return 'phone';
  // Cards print in groups of 4 (Amex 4-6-5, some UnionPay 6-13); the last group may be shorter.
  if (lengths.slice(0, -1).every((l) => l >= 4 && l <= 6) && isBankCard(digits)) return 'bank_card';
  return null;
}

/** A run of digits on its own (bounded by non-word characters, or by an X ending an identity number). */
function single(text: string, s: number, e: number, out: Finding[]) {
  const n = text.length;
  const len = e - s;
  if (len < 11) return;
  const next = e < n ? text.charCodeAt(e) : 0;
  if (len === 17 && (next === 88 || next === 120) /* X */) {
    if ((e + 1 >= n || !isWordChar(text.charCodeAt(e + 1))) && isChineseId18(text.slice(s, e + 1))) out.push({ type: 'cn_id', start: s, end: e + 1 });
    return;
  }
  if (isWordChar(next)) return;
  const digits = text.slice(s, e);
  if (len === 11) {
    if (isChinaMobile(digits)) out.push({ type: 'phone', start: s, end: e });
  } else if (len === 18 && isChineseId18(digits)) out.push({ type: 'cn_id', start: s, end: e });
  else if (len === 15 && isChineseId15(digits)) out.push({ type: 'cn_id', start: s, end: e });
  else if (len === 13 && digits.startsWith('86') && isChinaMobile(digits.slice(2))) out.push({ type: 'phone', start: s, end: e });
  else if (isBankCard(digits)) out.push({ type: 'bank_card', start: s, end: e });
}

/** A dotted run starting at `s` (an IPv4 address, a decimal, a version): checked in place, without allocating. */
function dotted(text: string, s: number, out: Finding[]): number {
  const n = text.length;
  let parts = 0;
  let valid = true;
  let j = s;
  for (;;) {
    let e = j;
    let value = 0;
    while (e < n && isDigit(text.charCodeAt(e))) value = value * 10 + (text.charCodeAt(e++) - 48);
    const len = e - j;
    // 0-255, at most 3 digits, no leading zero (01.02.03.04 is more often a date or a version)
    if (len === 0 || len > 3 || value > 255 || (len > 1 && text.charCodeAt(j) === 48)) valid = false;
    parts++;
    if (e + 1 < n && text.charCodeAt(e) === 46 && isDigit(text.charCodeAt(e + 1)) && parts < 8) {
      j = e + 1;
      continue;
    }
    if (valid && parts === 4 && (e >= n || !isWordChar(text.charCodeAt(e)))) out.push({ type: 'ipv4', start: s, end: e });
    return e;
  }
}

function scanCustom(text: string, rule: CustomRule, out: Finding[]) {
  const re = rule.regex;
  re.lastIndex = 0;
  const type = `custom:${rule.name}` as const;
  for (let found = 0; found < MAX_CUSTOM_MATCHES; found++) {
    const m = re.exec(text);
    if (!m) break;
    if (m[0].length === 0) {
      re.lastIndex++;
      continue;
    }
    out.push({ type, start: m.index, end: m.index + m[0].length });
  }
  re.lastIndex = 0;
}
