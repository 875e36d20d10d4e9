/**
 * The part of Semantic Versioning 2.0.0 an advisory check needs: parse, compare (pre-releases below their
 * release, build metadata ignored), and GitHub's range syntax (">= 1.0.0, < 1.2.3"). Written here rather
 * than taken from a package so the checker runs from the repository alone, with nothing to install.
 */
export interface Version {
  major: number;
  minor: number;
  patch: number;
  pre: (string | number)[];
  raw: string;
}

const PATTERN = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

export function parseVersion(text: string): Version | null {
  const m = PATTERN.exec(text.trim());
  if (!m) return null;
  const pre = m[4] ? m[4].split('.').map((id) => (/^\d+$/.test(id) ? Number(id) : id)) : [];
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre, raw: text.trim() };
}

export function compareVersions(a: Version, b: Version): number {
  for (const k of ['major', 'minor', 'patch'] as const) if (a[k] !== b[k]) return a[k] < b[k] ? -1 : 1;
  // A pre-release sorts before its release: 1.0.0-rc.1 < 1.0.0.
  if (!a.pre.length || !b.pre.length) return a.pre.length === b.pre.length ? 0 : a.pre.length ? -1 : 1;
  for (let i = 0; i < Math.max(a.pre.length, b.pre.length); i++) {
    const x = a.pre[i];
    const y = b.pre[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x < y ? -1 : 1;
    if (typeof x === 'number') return -1;
    if (typeof y === 'number') return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

/** Parses or throws, naming what was not a version: an advisory file with a typo must not match silently. */
export function version(text: string, where: string): Version {
  const v = parseVersion(text);
  if (!v) throw new Error(`${where}: "${text}" is not a semantic version`);
  return v;
}

type Comparator = { op: '<' | '<=' | '>' | '>=' | '='; v: Version };

/** GitHub's `vulnerable_version_range`: comparators joined by commas, all of which must hold. */
export function parseGithubRange(range: string, where: string): Comparator[] {
  return range.split(',').map((part) => {
    const m = /^\s*(<=|>=|<|>|=)?\s*(\S+)\s*$/.exec(part);
    if (!m) throw new Error(`${where}: cannot read the range "${range}"`);
    return { op: (m[1] ?? '=') as Comparator['op'], v: version(m[2]!, where) };
  });
}

export function satisfies(v: Version, comparators: Comparator[]): boolean {
  return comparators.every(({ op, v: bound }) => {
    const c = compareVersions(v, bound);
    return op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : op === '>=' ? c >= 0 : c === 0;
  });
}
