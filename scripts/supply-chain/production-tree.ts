import fs from 'node:fs';
import path from 'node:path';
import type { SbomComponent } from './sbom';

type LockEntry = { version?: string; license?: string; dev?: boolean; link?: boolean; name?: string };
type Manifest = { name?: string; version?: string; license?: string | { type?: string }; licenses?: (string | { type?: string })[] };

/** A package.json's licence as one SPDX expression; the old `licenses: [...]` array means all of them. */
export function manifestLicence(m: Manifest): string | null {
  if (typeof m.license === 'string') return m.license;
  if (m.license && typeof m.license.type === 'string') return m.license.type;
  const list = (m.licenses ?? []).map((l) => (typeof l === 'string' ? l : l.type)).filter((l): l is string => !!l);
  return list.length ? (list.length === 1 ? list[0]! : `(${list.join(' OR ')})`) : null;
}

/**
 * The production dependency tree as `npm ci --omit=dev` installs it on this platform: the lockfile's
 * entries that are not dev-only and are on disk (other platforms' optional binaries are in the lockfile
 * but never installed here), with each package's licence from its own package.json.
 */
export function productionTree(root: string): SbomComponent[] {
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { lockfileVersion?: number; packages?: Record<string, LockEntry> };
  if (!lock.packages || (lock.lockfileVersion ?? 0) < 2) throw new Error(`${root}/package-lock.json: lockfile version 2 or 3 expected (npm 7 or later)`);
  const seen = new Map<string, SbomComponent>();
  for (const [where, entry] of Object.entries(lock.packages)) {
    if (!where.startsWith('node_modules/') && !where.includes('/node_modules/')) continue;
    if (entry.dev || entry.link) continue;
    const manifestFile = path.join(root, where, 'package.json');
    if (!fs.existsSync(manifestFile)) continue;
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as Manifest;
    const name = manifest.name ?? where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const version = manifest.version ?? entry.version ?? '';
    seen.set(`${name}@${version}`, { name, version, licence: manifestLicence(manifest) ?? entry.license ?? null, npm: true });
  }
  return [...seen.values()].sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
}
