/**
 * Check digits and validity rules of the identifiers the detector looks for. Each takes the digits as
 * they stand in the text (separators already removed) and answers whether they could be real: a wrong
 * check digit or an impossible birth date is not an identity number, an order number is not a card.
 */

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
let todayKey = 0;
let todayUntil = 0;
/** Today as yyyymmdd (UTC), recomputed at most once a minute: no Date per candidate on the hot path. */
function today(): number {
  const now = Date.now();
  if (now >= todayUntil) {
    const d = new Date(now);
    todayKey = d.getUTCFullYear() * 10_000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate();
    todayUntil = now + 60_000;
  }
  return todayKey;
}

/** Year, month, day make a real calendar date between 1900 and today (an identity holder's birth). */
function plausibleBirth(year: number, month: number, day: number): boolean {
  if (year < 1900 || month < 1 || month > 12 || day < 1) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!)) return false;
  return year * 10_000 + month * 100 + day <= today();
}

/** The number written by `len` digits of `s` from `at` (the caller checked they are digits). */
function digitsAt(s: string, at: number, len: number): number {
  let v = 0;
  for (let i = at; i < at + len; i++) v = v * 10 + (s.charCodeAt(i) - 48);
  return v;
}

/** Mainland provinces and regions: 11-15, 21-23, 31-37, 41-46, 50-54, 61-65 (GB/T 2260). */
function plausibleRegion(code: string): boolean {
  const p = (code.charCodeAt(0) - 48) * 10 + (code.charCodeAt(1) - 48);
  return (p >= 11 && p <= 15) || (p >= 21 && p <= 23) || (p >= 31 && p <= 37) || (p >= 41 && p <= 46) || (p >= 50 && p <= 54) || (p >= 61 && p <= 65);
}

/**
 * A resident identity number (GB 11643-1999): 6-digit region, 8-digit birth date, 3-digit sequence and
 * the ISO 7064 MOD 11-2 check character (0-9 or X).
 */
export function isChineseId18(id: string): boolean {
  if (id.length !== 18 || !plausibleRegion(id)) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const d = id.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    sum += d * ID_WEIGHTS[i]!;
  }
  const expected = ID_CHECK.charCodeAt(sum % 11);
  const check = id.charCodeAt(17);
  if (check !== expected && !(expected === 88 /* X */ && check === 120) /* x */) return false;
  return plausibleBirth(digitsAt(id, 6, 4), digitsAt(id, 10, 2), digitsAt(id, 12, 2));
}

/** The 15-digit numbers issued before 1999: region, YYMMDD (19YY), 3-digit sequence; no check digit, so the date must hold. */
export function isChineseId15(id: string): boolean {
  if (id.length !== 15 || !plausibleRegion(id)) return false;
  for (let i = 0; i < 15; i++) if (id.charCodeAt(i) < 48 || id.charCodeAt(i) > 57) return false;
  return plausibleBirth(1900 + digitsAt(id, 6, 2), digitsAt(id, 8, 2), digitsAt(id, 10, 2));
}

/** The Luhn (mod 10) check every payment card number carries. */
export function luhn(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/**
 * A card number: 13-19 digits, Luhn-valid, starting like a real issuer (3: Amex/JCB/Diners, 4: Visa,
 * 5: Mastercard, 6: UnionPay/Discover, 2221-2720: Mastercard's 2-series). One random number in ten passes
 * Luhn alone, so the issuer prefix keeps order numbers and timestamps (which start with 1 or 20..) out.
 */
export function isBankCard(digits: string): boolean {
  if (digits.length < 13 || digits.length > 19) return false;
  const first = digits.charCodeAt(0) - 48;
  if (first === 2) {
    const four = Number(digits.slice(0, 4));
    if (four < 2221 || four > 2720) return false;
  } else if (first < 3 || first > 6) return false;
  return luhn(digits);
}

/** Mainland mobile numbers: 1, then 3-9, then 9 digits. */
export function isChinaMobile(digits: string): boolean {
  if (digits.length !== 11 || digits.charCodeAt(0) !== 49 /* 1 */) return false;
  const second = digits.charCodeAt(1) - 48;
  return second >= 3 && second <= 9;
}

/** A landline: area code 0 + 2 or 3 digits (010, 021, 0755), then a 7- or 8-digit local number not starting with 0. */
export function isChinaLandline(area: string, local: string): boolean {
  if (area.length < 3 || area.length > 4 || area.charCodeAt(0) !== 48 || area.charCodeAt(1) === 48) return false;
  if (local.length < 7 || local.length > 8) return false;
  return local.charCodeAt(0) !== 48;
}

/** E.164 after the '+': a country code not starting with 0, 8 to 15 digits in all; +86 must then be a mainland number. */
export function isE164(digits: string): boolean {
  if (digits.length < 8 || digits.length > 15 || digits.charCodeAt(0) === 48) return false;
  if (digits.startsWith('86')) {
    const national = digits.slice(2);
    return isChinaMobile(national) || (national.length >= 9 && national.length <= 11 && national.charCodeAt(0) !== 49);
  }
  return true;
}

/** Four dotted octets 0-255, without leading zeros (01.02.03.04 is more often a date or version than an address). */
export function isIPv4(parts: string[]): boolean {
  if (parts.length !== 4) return false;
  for (const p of parts) {
    if (p.length === 0 || p.length > 3 || (p.length > 1 && p.charCodeAt(0) === 48) || Number(p) > 255) return false;
  }
  return true;
}
