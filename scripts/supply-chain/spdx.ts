/**
 * What a licence asks of whoever ships Enclave, from the package's SPDX expression. A deliberately small
 * list: anything not named here is "review", never assumed permissive.
 */
export type LicenceClass = 'permissive' | 'weak-copyleft' | 'strong-copyleft' | 'review' | 'undeclared';

const PERMISSIVE = new Set([
  'MIT', 'MIT-0', 'ISC', 'Apache-2.0', 'BSD-2-Clause', 'BSD-3-Clause', '0BSD', 'BlueOak-1.0.0', 'CC0-1.0', 'Unlicense',
  'Zlib', 'Python-2.0', 'PostgreSQL', 'BSL-1.0', 'WTFPL', 'CC-BY-3.0', 'CC-BY-4.0',
]);
// File-level or library-level copyleft: changes to those files are shared; linking and shipping unmodified is allowed.
const WEAK = /^(LGPL-|MPL-|EPL-|CDDL-|CPL-|EUPL-1\.[01]|MS-RL|CC-BY-SA-)/;
// The whole work that includes it falls under its terms (AGPL: even when only served over a network).
const STRONG = /^(GPL-|AGPL-|SSPL-|OSL-|EUPL-1\.2|RPL-|Sleepycat)/;

function classOfId(id: string): LicenceClass {
  const bare = id.replace(/\+$/, '').replace(/ WITH .*$/, '');
  if (PERMISSIVE.has(bare)) return 'permissive';
  if (STRONG.test(bare)) return 'strong-copyleft';
  if (WEAK.test(bare)) return 'weak-copyleft';
  return 'review';
}

const RANK: LicenceClass[] = ['permissive', 'weak-copyleft', 'review', 'strong-copyleft', 'undeclared'];
const worst = (list: LicenceClass[]) => list.reduce((a, b) => (RANK.indexOf(b) > RANK.indexOf(a) ? b : a), 'permissive' as LicenceClass);
const best = (list: LicenceClass[]) => list.reduce((a, b) => (RANK.indexOf(b) < RANK.indexOf(a) ? b : a), 'undeclared' as LicenceClass);

/**
 * An expression's class: OR takes the most permissive choice (whoever ships chooses), AND the least (all
 * apply). SPDX's grammar (AND binds tighter than OR, parentheses, "WITH exception"), parsed properly.
 */
export function classify(expression: string | null | undefined): LicenceClass {
  const text = expression?.trim() ?? '';
  if (!text || /^(UNLICENSED|UNKNOWN|NONE)$/i.test(text) || /^SEE LICEN[CS]E IN/i.test(text)) return 'undeclared';
  const tokens = text.match(/\(|\)|[^\s()]+/g) ?? [];
  let at = 0;
  const peek = () => tokens[at];
  const factor = (): LicenceClass => {
    const t = tokens[at++];
    if (t === '(') {
      const inner = or();
      if (tokens[at++] !== ')') throw new Error(`unbalanced parentheses in "${text}"`);
      return inner;
    }
    if (!t || t === ')' || /^(AND|OR|WITH)$/i.test(t)) throw new Error(`cannot read the licence expression "${text}"`);
    // An exception (GPL-2.0 WITH Classpath-exception-2.0) widens a licence, but its class stays for review.
    if (peek()?.toUpperCase() === 'WITH') at += 2;
    return classOfId(t);
  };
  const and = (): LicenceClass => {
    const parts = [factor()];
    while (peek()?.toUpperCase() === 'AND') (at++, parts.push(factor()));
    return worst(parts);
  };
  const or = (): LicenceClass => {
    const parts = [and()];
    while (peek()?.toUpperCase() === 'OR') (at++, parts.push(and()));
    return best(parts);
  };
  try {
    const result = or();
    return at === tokens.length ? result : 'review';
  } catch {
    return 'review';
  }
}
