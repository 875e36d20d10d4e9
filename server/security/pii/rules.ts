import vm from 'node:vm';
import type { CustomRule, CustomRules } from './detect';

/**
 * Organisation-defined rules: a regular expression or a keyword list, each with a name (its findings
 * are `custom:<name>`). A pattern is vetted when an admin saves it, because it runs on every request:
 * it must compile, stay short, carry no nested or overlapping quantifiers (the shapes that backtrack
 * catastrophically: (a+)+, (a|a)*, (\d+\s?)+) and no backreferences, and it must finish within a time
 * bound on inputs built to make such patterns blow up.
 */
export const MAX_PATTERN_LENGTH = 200;
export const MAX_KEYWORDS = 500;
export const MAX_KEYWORD_LENGTH = 100;
export const RULE_NAME = /^[a-z0-9][a-z0-9_-]{0,39}$/;

export interface RuleDefinition {
  name: string;
  kind: 'regex' | 'keywords';
  /** The pattern (kind regex) or the keywords, one per line (kind keywords). */
  pattern: string;
}

/** A rule an admin tried to save is unfit; `field` names what to fix. */
export class RuleError extends Error {
  constructor(
    readonly field: 'name' | 'pattern',
    message: string,
  ) {
    super(message);
  }
}

/** Keywords from the saved text: one per line, trimmed, empty lines dropped, duplicates once. */
export function keywordsOf(pattern: string): string[] {
  return [...new Set(pattern.split('\n').map((k) => k.trim()).filter((k) => k.length > 0))];
}

/** Throws a RuleError naming the field when the definition cannot be saved. */
export function vetRule(def: RuleDefinition): void {
  if (!RULE_NAME.test(def.name)) throw new RuleError('name', 'name: 1 to 40 lowercase letters, digits, - or _, starting with a letter or digit');
  if (def.kind === 'keywords') {
    const words = keywordsOf(def.pattern);
    if (words.length === 0) throw new RuleError('pattern', 'keywords: give at least one keyword, one per line');
    if (words.length > MAX_KEYWORDS) throw new RuleError('pattern', `keywords: at most ${MAX_KEYWORDS}`);
    const long = words.find((w) => w.length > MAX_KEYWORD_LENGTH);
    if (long !== undefined) throw new RuleError('pattern', `keywords: each at most ${MAX_KEYWORD_LENGTH} characters`);
    return;
  }
  const p = def.pattern;
  if (p.length === 0 || p.length > MAX_PATTERN_LENGTH) throw new RuleError('pattern', `pattern: 1 to ${MAX_PATTERN_LENGTH} characters`);
  try {
    new RegExp(p, 'gu');
  } catch (e) {
    throw new RuleError('pattern', `pattern does not compile: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}`);
  }
  const shape = riskyShape(p);
  if (shape) throw new RuleError('pattern', `pattern could backtrack catastrophically (${shape}); rewrite it without nested or overlapping repetition`);
  if (!finishesInTime(p)) throw new RuleError('pattern', 'pattern is too slow on adversarial input; simplify it');
}

/**
 * The pattern's structure, checked for the shapes that make a backtracking engine exponential: a
 * repeated group that itself contains a repetition, a repeated alternation, a backreference, a lookaround
 * (whose cost hides inside other repetitions). Conservative: some safe patterns are refused too.
 */
export function riskyShape(pattern: string): string | null {
  if (/\\[1-9]|\\k</.test(pattern)) return 'a backreference';
  if (/\(\?<?[=!]/.test(pattern)) return 'a lookaround';
  // Walk groups with a stack: each frame remembers whether its body repeats something or alternates.
  const stack: { repeats: boolean; alternates: boolean }[] = [{ repeats: false, alternates: false }];
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      i++;
      if (!inClass && isQuantifier(pattern, i + 1)) stack[stack.length - 1]!.repeats = true;
      continue;
    }
    if (inClass) {
      if (c === ']') {
        inClass = false;
        if (isQuantifier(pattern, i + 1)) stack[stack.length - 1]!.repeats = true;
      }
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') stack.push({ repeats: false, alternates: false });
    else if (c === '|') stack[stack.length - 1]!.alternates = true;
    else if (c === ')') {
      const frame = stack.pop()!;
      const repeated = isUnboundedQuantifier(pattern, i + 1);
      if (repeated && frame.repeats) return 'a repeated group that repeats inside';
      if (repeated && frame.alternates) return 'a repeated alternation';
      // The pattern compiled, so its parentheses balance: the root frame is never popped.
      const parent = stack[stack.length - 1]!;
      if (frame.repeats || isQuantifier(pattern, i + 1)) parent.repeats = true;
    } else if (isQuantifier(pattern, i + 1)) stack[stack.length - 1]!.repeats = true;
  }
  return null;
}

function isQuantifier(p: string, at: number): boolean {
  const c = p[at];
  return c === '*' || c === '+' || c === '?' || (c === '{' && /^\{\d+(,\d*)?\}/.test(p.slice(at)));
}

/** *, + or {n,} / {n,m} with a large m: a repetition that can try many splits. */
function isUnboundedQuantifier(p: string, at: number): boolean {
  const c = p[at];
  if (c === '*' || c === '+') return true;
  const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(at));
  return !!m && m[2] !== undefined && (m[3] === '' || Number(m[3]) > 10);
}

const PROBES = ['a', '0', ' ', 'aa', 'a0', '0 ', 'a@', '-0', '.a', '中'];

/** Runs the pattern on long repetitive inputs in a separate context with a time limit. */
function finishesInTime(pattern: string): boolean {
  const inputs = PROBES.map((p) => p.repeat(Math.ceil(20_000 / p.length)) + '!');
  try {
    vm.runInNewContext(
      'for (const s of inputs) { const re = new RegExp(pattern, "gu"); let n = 0; while (re.exec(s) && n++ < 20000) if (re.lastIndex === 0) break; }',
      { inputs, pattern },
      { timeout: 200 },
    );
    return true;
  } catch {
    return false;
  }
}

/** Compiles vetted definitions into what findSensitive takes. A keyword list matches case-insensitively as plain text. */
export function compileRules(defs: readonly RuleDefinition[]): CustomRules {
  const rules: CustomRule[] = [];
  for (const def of defs) {
    if (def.kind === 'keywords') {
      const words = keywordsOf(def.pattern);
      if (words.length === 0) continue;
      // Longest first, so "project apollo" wins over "project" at the same place.
      const alternation = words.sort((a, b) => b.length - a.length).map(escapeRegExp).join('|');
      rules.push({ name: def.name, regex: new RegExp(alternation, 'giu') });
    } else {
      try {
        rules.push({ name: def.name, regex: new RegExp(def.pattern, 'gu') });
      } catch {
        // Vetted when saved; a pattern that no longer compiles (a newer engine) is skipped, not fatal.
      }
    }
  }
  return { rules };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
