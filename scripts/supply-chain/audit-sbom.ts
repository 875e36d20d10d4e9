/**
 * Checks a CycloneDX SBOM (the image's or the bundle's, from `npm sbom`) against an advisory database the
 * organisation mirrors, offline: OSV records or GitHub advisories (see advisories.ts and
 * docs/install/supply-chain.md).
 *
 *   npx tsx scripts/supply-chain/audit-sbom.ts --sbom SBOM.cdx.json --advisories DIR_OR_FILE
 *       [--min-severity low|moderate|high|critical] [--max-age-days N] [--json]
 *
 * Exit 0: no component has a known vulnerable version at or above --min-severity (default low: all).
 * Exit 1: findings (each printed with its advisory, affected ranges and fixed versions), or a mirror older
 * than --max-age-days. Exit 2: bad input (an unreadable SBOM or advisory file is never "no findings").
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadAdvisories, SEVERITIES, type Advisory, type Severity } from './advisories';
import { readSbom, type SbomComponent } from './sbom';
import { compareVersions, parseVersion } from './semver';

export interface Finding {
  package: string;
  version: string;
  advisory: string;
  aliases: string[];
  severity: Severity;
  summary: string;
  affected: string[];
  fixed: string[];
}

export interface AuditResult {
  components: number;
  npmComponents: number;
  advisories: number;
  files: number;
  /** The newest `modified` date in the mirror: how fresh the check is. */
  newestAdvisory: string | null;
  /** Versions that are not semver (a git dependency, a tag): named, never silently passed. */
  unversioned: string[];
  findings: Finding[];
}

/** Only fixes above the version in use are a way out (a fix on an older line is not an upgrade). */
function laterFixes(fixed: string[], v: NonNullable<ReturnType<typeof parseVersion>>): string[] {
  return [...new Set(fixed)].filter((f) => {
    const fv = parseVersion(f);
    return fv !== null && compareVersions(fv, v) > 0;
  });
}

export function auditSbom(components: SbomComponent[], loaded: { advisories: Advisory[]; files: number }): AuditResult {
  const byPackage = new Map<string, Advisory[]>();
  for (const a of loaded.advisories) for (const name of a.affects.keys()) byPackage.set(name, [...(byPackage.get(name) ?? []), a]);
  const findings: Finding[] = [];
  const unversioned: string[] = [];
  const npm = components.filter((c) => c.npm);
  for (const c of npm) {
    const v = parseVersion(c.version);
    if (!v) {
      unversioned.push(`${c.name}@${c.version}`);
      continue;
    }
    for (const a of byPackage.get(c.name) ?? []) {
      const hit = a.affects.get(c.name)!;
      if (hit.matches(v)) findings.push({ package: c.name, version: c.version, advisory: a.id, aliases: a.aliases, severity: a.severity, summary: a.summary, affected: hit.ranges, fixed: laterFixes(hit.fixed, v) });
    }
  }
  findings.sort((x, y) => SEVERITIES.indexOf(y.severity) - SEVERITIES.indexOf(x.severity) || x.package.localeCompare(y.package));
  const dates = loaded.advisories.map((a) => a.modified).filter((d): d is string => !!d && !Number.isNaN(Date.parse(d)));
  const newest = dates.length ? new Date(Math.max(...dates.map((d) => Date.parse(d)))).toISOString() : null;
  return { components: components.length, npmComponents: npm.length, advisories: loaded.advisories.length, files: loaded.files, newestAdvisory: newest, unversioned, findings };
}

export function formatAudit(r: AuditResult): string {
  const lines = [`${r.npmComponents} npm components checked against ${r.advisories} npm advisories from ${r.files} files (newest modified ${r.newestAdvisory ?? 'unknown'}).`];
  for (const u of r.unversioned) lines.push(`not checked (no semantic version): ${u}`);
  if (!r.findings.length) lines.push('No component is at a version a known advisory affects.');
  for (const f of r.findings) {
    const ids = [f.advisory, ...f.aliases].join(' / ');
    lines.push(`${f.severity.toUpperCase().padEnd(8)} ${f.package}@${f.version}  ${ids}  affected ${f.affected.join(' || ')}  fixed in ${f.fixed.join(', ') || `no release after ${f.version}`}  ${f.summary}`);
  }
  return lines.join('\n') + '\n';
}

function main(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { sbom: { type: 'string' }, advisories: { type: 'string' }, 'min-severity': { type: 'string' }, 'max-age-days': { type: 'string' }, json: { type: 'boolean' } }, strict: true });
  if (!values.sbom || !values.advisories) throw new Error('--sbom FILE and --advisories DIR_OR_FILE are required');
  const min = (values['min-severity'] ?? 'low') as Severity;
  if (!SEVERITIES.includes(min)) throw new Error(`--min-severity must be one of ${SEVERITIES.slice(1).join(', ')}`);
  const maxAge = values['max-age-days'] === undefined ? undefined : Number(values['max-age-days']);
  if (maxAge !== undefined && !(maxAge > 0)) throw new Error('--max-age-days must be a positive number');
  const result = auditSbom(readSbom(values.sbom), loadAdvisories(values.advisories));
  // "unknown" severity counts as serious: an advisory without a rating is not a low one.
  const counted = result.findings.filter((f) => f.severity === 'unknown' || SEVERITIES.indexOf(f.severity) >= SEVERITIES.indexOf(min));
  const stale = maxAge !== undefined && (!result.newestAdvisory || Date.now() - Date.parse(result.newestAdvisory) > maxAge * 86_400_000);
  process.stdout.write(values.json ? JSON.stringify({ ...result, stale }, null, 2) + '\n' : formatAudit(result));
  if (stale) process.stderr.write(`audit-sbom: the advisory mirror's newest record is from ${result.newestAdvisory ?? 'an unknown date'}, older than ${maxAge} days: refresh the mirror\n`);
  return counted.length || stale ? 1 : 0;
}

if (import.meta.url === pathToFileURL(path.resolve(process.argv[1] ?? '')).href) {
  try {
    process.exit(main(process.argv.slice(2)));
  } catch (e) {
    process.stderr.write(`audit-sbom: ${(e as Error).message}\n`);
    process.exit(2);
  }
}
