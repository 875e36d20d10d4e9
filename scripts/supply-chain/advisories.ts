import fs from 'node:fs';
import path from 'node:path';
import { compareVersions, parseGithubRange, satisfies, version, type Version } from './semver';

/**
 * Advisories for npm packages, read from what an organisation mirrors: OSV records (the OSV.dev export
 * `npm/all.zip` unpacked, or github/advisory-database, whose files are OSV too) or GitHub's REST
 * advisories (`GET /advisories?ecosystem=npm` saved as JSON). Every file under a directory is read;
 * one that is neither is an error naming the file, so a broken mirror never passes as "no findings".
 */
export interface Advisory {
  id: string;
  aliases: string[];
  summary: string;
  severity: Severity;
  modified?: string;
  /** npm package name → a test of its version, and that test as text (">=1.0.0 <1.2.3"). */
  affects: Map<string, { matches(v: Version): boolean; ranges: string[]; fixed: string[] }>;
  source: string;
}

export const SEVERITIES = ['unknown', 'low', 'moderate', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

function severityOf(record: Record<string, unknown>): Severity {
  // GitHub writes its word in both formats (OSV: database_specific.severity, REST: severity).
  const word = String((record.database_specific as { severity?: string } | undefined)?.severity ?? record.severity ?? '').toLowerCase();
  if (word === 'medium') return 'moderate';
  return (SEVERITIES as readonly string[]).includes(word) ? (word as Severity) : 'unknown';
}

type OsvEvent = { introduced?: string; fixed?: string; last_affected?: string; limit?: string };

/** OSV's SEMVER/ECOSYSTEM range: walk the events in version order (the OSV schema's own algorithm). */
function osvRange(events: OsvEvent[], where: string) {
  const points = events
    .flatMap((e) => Object.entries(e).map(([kind, text]) => ({ kind, text: String(text) })))
    .filter((p) => p.kind !== 'limit')
    .map((p) => ({ ...p, v: p.text === '0' ? null : version(p.text, where) }))
    .sort((a, b) => (a.v === null ? -1 : b.v === null ? 1 : compareVersions(a.v, b.v)));
  const text: string[] = [];
  let open: string | undefined;
  for (const p of points) {
    if (p.kind === 'introduced') open = p.v ? `>=${p.text}` : '>=0.0.0';
    else if (open !== undefined && p.kind === 'fixed') (text.push(`${open} <${p.text}`), (open = undefined));
    else if (open !== undefined && p.kind === 'last_affected') (text.push(`${open} <=${p.text}`), (open = undefined));
  }
  if (open !== undefined) text.push(open);
  return {
    text,
    fixed: points.filter((p) => p.kind === 'fixed').map((p) => p.text),
    matches(v: Version) {
      let affected = false;
      for (const p of points) {
        const c = p.v === null ? 1 : compareVersions(v, p.v);
        if (p.kind === 'introduced' && c >= 0) affected = true;
        else if (p.kind === 'fixed' && c >= 0) affected = false;
        else if (p.kind === 'last_affected' && c > 0) affected = false;
      }
      return affected;
    },
  };
}

function fromOsv(record: Record<string, unknown>, source: string): Advisory | null {
  if (record.withdrawn) return null;
  const id = String(record.id);
  const affects: Advisory['affects'] = new Map();
  for (const a of (record.affected as Record<string, unknown>[] | undefined) ?? []) {
    const pkg = a.package as { ecosystem?: string; name?: string } | undefined;
    if (pkg?.ecosystem !== 'npm' || !pkg.name) continue;
    const where = `${source} (${id}, ${pkg.name})`;
    const ranges = ((a.ranges as { type: string; events: OsvEvent[] }[] | undefined) ?? []).filter((r) => r.type === 'SEMVER' || r.type === 'ECOSYSTEM').map((r) => osvRange(r.events, where));
    const listed = ((a.versions as string[] | undefined) ?? []).map((v) => version(v, where));
    const prior = affects.get(pkg.name);
    affects.set(pkg.name, {
      matches: (v) => (prior?.matches(v) ?? false) || ranges.some((r) => r.matches(v)) || listed.some((l) => compareVersions(l, v) === 0),
      ranges: [...(prior?.ranges ?? []), ...ranges.flatMap((r) => r.text), ...(ranges.length ? [] : listed.map((l) => `=${l.raw}`))],
      fixed: [...(prior?.fixed ?? []), ...ranges.flatMap((r) => r.fixed)],
    });
  }
  if (!affects.size) return null;
  return { id, aliases: (record.aliases as string[] | undefined) ?? [], summary: String(record.summary ?? record.details ?? '').split('\n')[0]!, severity: severityOf(record), modified: record.modified as string | undefined, affects, source };
}

function fromGithub(record: Record<string, unknown>, source: string): Advisory | null {
  if (record.withdrawn_at) return null;
  const id = String(record.ghsa_id);
  const affects: Advisory['affects'] = new Map();
  for (const v of (record.vulnerabilities as Record<string, unknown>[] | undefined) ?? []) {
    const pkg = v.package as { ecosystem?: string; name?: string } | undefined;
    if (pkg?.ecosystem !== 'npm' || !pkg.name || typeof v.vulnerable_version_range !== 'string') continue;
    const range = v.vulnerable_version_range;
    const comparators = parseGithubRange(range, `${source} (${id}, ${pkg.name})`);
    const fixed = typeof v.first_patched_version === 'string' ? v.first_patched_version : (v.first_patched_version as { identifier?: string } | null)?.identifier;
    const prior = affects.get(pkg.name);
    affects.set(pkg.name, {
      matches: (x) => (prior?.matches(x) ?? false) || satisfies(x, comparators),
      ranges: [...(prior?.ranges ?? []), range.replace(/\s*,\s*/g, ' ').replace(/([<>=]+)\s+/g, '$1')],
      fixed: [...(prior?.fixed ?? []), ...(fixed ? [fixed] : [])],
    });
  }
  if (!affects.size) return null;
  const cve = typeof record.cve_id === 'string' ? [record.cve_id] : [];
  return { id, aliases: cve, summary: String(record.summary ?? ''), severity: severityOf(record), modified: (record.updated_at ?? record.published_at) as string | undefined, affects, source };
}

function recordsIn(file: string): Advisory[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not JSON (${(e as Error).message})`);
  }
  const records = Array.isArray(parsed) ? parsed : [parsed];
  return records.flatMap((r, i) => {
    const where = records.length > 1 ? `${file}[${i}]` : file;
    if (!r || typeof r !== 'object') throw new Error(`${where}: not an advisory object`);
    const rec = r as Record<string, unknown>;
    if (typeof rec.ghsa_id === 'string' && Array.isArray(rec.vulnerabilities)) return fromGithub(rec, where) ?? [];
    if (typeof rec.id === 'string' && (Array.isArray(rec.affected) || rec.schema_version !== undefined)) return fromOsv(rec, where) ?? [];
    throw new Error(`${where}: neither an OSV record (id, affected) nor a GitHub advisory (ghsa_id, vulnerabilities)`);
  });
}

function* jsonFiles(p: string): Generator<string> {
  const stat = fs.statSync(p);
  if (stat.isFile()) {
    yield p;
    return;
  }
  for (const entry of fs.readdirSync(p, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(p, entry.name);
    if (entry.isDirectory()) yield* jsonFiles(full);
    else if (entry.name.endsWith('.json')) yield full;
  }
}

/** Every npm advisory under `where` (a file or a directory tree of .json files); the same id read twice counts once. */
export function loadAdvisories(where: string): { advisories: Advisory[]; files: number } {
  if (!fs.existsSync(where)) throw new Error(`${where}: no such file or directory`);
  const byId = new Map<string, Advisory>();
  let files = 0;
  for (const file of jsonFiles(where)) {
    files++;
    for (const a of recordsIn(file)) byId.set(a.id, a);
  }
  return { advisories: [...byId.values()], files };
}
