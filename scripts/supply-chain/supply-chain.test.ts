import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, test } from 'vitest';
import { loadAdvisories } from './advisories';
import { auditSbom } from './audit-sbom';
import { licenceRows, licencesMarkdown } from './licenses';
import { productionTree } from './production-tree';
import { readSbom } from './sbom';
import { compareVersions, parseGithubRange, parseVersion, satisfies } from './semver';
import { classify } from './spdx';

const here = import.meta.dirname;
const root = path.resolve(here, '../..');
const fixtures = path.join(here, 'testing');
const tsx = (script: string, args: string[]) => execa(process.execPath, ['--import', 'tsx', path.join(here, script), ...args], { reject: false, cwd: root });
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-supply-chain-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe('semver', () => {
  test('orders releases, pre-releases below their release, and reads GitHub ranges', () => {
    const v = (s: string) => parseVersion(s)!;
    const sorted = ['1.0.0', '1.0.0-rc.1', '1.0.0-alpha', '1.0.0-alpha.1', '0.9.12', '1.0.0-alpha.beta', '1.0.0-beta.11', '1.0.0-beta.2', '10.0.0', '2.0.0'].sort((a, b) => compareVersions(v(a), v(b)));
    expect(sorted).toEqual(['0.9.12', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '2.0.0', '10.0.0']);
    expect(parseVersion('1.2')).toBeNull();
    const range = parseGithubRange('>= 8.0.0, < 8.17.1', 'test');
    expect(['7.9.9', '8.0.0', '8.17.0', '8.17.1'].map((x) => satisfies(v(x), range))).toEqual([false, true, true, false]);
    expect(() => parseGithubRange('< 8.x', 'page-1.json')).toThrow('page-1.json: "8.x" is not a semantic version');
  });
});

describe('audit-sbom', () => {
  test('OSV and GitHub advisories against an SBOM: the affected versions found, withdrawn and other ecosystems ignored', () => {
    const result = auditSbom(readSbom(path.join(fixtures, 'sbom.cdx.json')), loadAdvisories(path.join(fixtures, 'advisories')));
    expect([result.npmComponents, result.advisories, result.files, result.newestAdvisory]).toEqual([5, 4, 4, '2026-11-25T12:00:00.000Z']);
    expect(result.unversioned).toEqual(['from-git@github:example/from-git#main']);
    expect(result.findings.map((f) => [f.severity, `${f.package}@${f.version}`, f.advisory, f.affected.join(' || '), f.fixed.join(',')])).toEqual([
      ['critical', '@example/parser@2.0.0-beta.3', 'TEST-2026-0002', '>=2.0.0-beta.1 <2.0.0', '2.0.0'],
      // last_affected 1.4.4: this version is affected and no later release fixes it yet.
      ['high', 'node-forge@1.4.4', 'TEST-2026-0001', '>=0.0.0 <1.3.0 || >=1.4.0 <=1.4.4', ''],
      ['moderate', 'ws@8.17.0', 'GHSA-test-ws00-0001', '>=8.0.0 <8.17.1 || >=7.0.0 <7.5.10', '8.17.1'],
    ]);
  });

  test('the command: findings exit 1, a severity floor above them exits 0, a stale mirror exits 1, a broken file exits 2 naming it', async () => {
    const args = ['--sbom', path.join(fixtures, 'sbom.cdx.json'), '--advisories', path.join(fixtures, 'advisories')];
    const all = await tsx('audit-sbom.ts', args);
    expect(all.exitCode, all.stderr).toBe(1);
    expect(all.stdout).toMatch(/^HIGH +node-forge@1\.4\.4 +TEST-2026-0001 \/ CVE-2026-99001 +affected >=0\.0\.0 <1\.3\.0 \|\| >=1\.4\.0 <=1\.4\.4 +fixed in no release after 1\.4\.4/m);
    const json = await tsx('audit-sbom.ts', [...args, '--json']);
    expect(JSON.parse(json.stdout).findings).toHaveLength(3);
    // A floor is about rating: the critical finding still counts, so raise it past all three with another set.
    const onlyGithub = await tsx('audit-sbom.ts', ['--sbom', path.join(fixtures, 'sbom.cdx.json'), '--advisories', path.join(fixtures, 'advisories/github'), '--min-severity', 'high']);
    expect(onlyGithub.exitCode, onlyGithub.stdout).toBe(0);
    expect(onlyGithub.stdout).toContain('MODERATE ws@8.17.0');
    const stale = await tsx('audit-sbom.ts', ['--sbom', path.join(fixtures, 'sbom.cdx.json'), '--advisories', path.join(fixtures, 'advisories/github'), '--min-severity', 'critical', '--max-age-days', '1']);
    expect([stale.exitCode, stale.stderr]).toEqual([1, expect.stringContaining('older than 1 days: refresh the mirror')]);
    const broken = path.join(scratch, 'broken');
    fs.mkdirSync(broken);
    fs.writeFileSync(path.join(broken, 'x.json'), '{"id": 1}');
    const bad = await tsx('audit-sbom.ts', ['--sbom', path.join(fixtures, 'sbom.cdx.json'), '--advisories', broken]);
    expect([bad.exitCode, bad.stderr.trim()]).toEqual([2, `audit-sbom: ${path.join(broken, 'x.json')}: neither an OSV record (id, affected) nor a GitHub advisory (ghsa_id, vulnerabilities)`]);
    const notSbom = await tsx('audit-sbom.ts', ['--sbom', path.join(fixtures, 'advisories/github/page-1.json'), '--advisories', broken]);
    expect(notSbom.stderr).toContain('not a CycloneDX JSON SBOM');
  });

  test('on the real `npm sbom` of this repository: an advisory for the locked version of a dependency is found, one fixed at it is not', async () => {
    const sbom = await execa('npm', ['sbom', '--package-lock-only', '--omit', 'dev', '--sbom-format', 'cyclonedx'], { cwd: root });
    const sbomFile = path.join(scratch, 'enclave.cdx.json');
    fs.writeFileSync(sbomFile, sbom.stdout);
    const pino = readSbom(sbomFile).find((c) => c.name === 'pino')!;
    const dir = path.join(scratch, 'mirror');
    fs.mkdirSync(dir);
    const osv = (id: string, events: object[]) => ({ schema_version: '1.6.0', id, modified: new Date().toISOString(), summary: id, affected: [{ package: { ecosystem: 'npm', name: 'pino' }, ranges: [{ type: 'SEMVER', events }] }], database_specific: { severity: 'HIGH' } });
    fs.writeFileSync(path.join(dir, 'affected.json'), JSON.stringify(osv('TEST-PINO-AFFECTED', [{ introduced: '0' }, { fixed: `${pino.version.split('.')[0]}.999.0` }])));
    fs.writeFileSync(path.join(dir, 'fixed.json'), JSON.stringify(osv('TEST-PINO-FIXED', [{ introduced: '0' }, { fixed: pino.version }])));
    const run = await tsx('audit-sbom.ts', ['--sbom', sbomFile, '--advisories', dir, '--json', '--max-age-days', '30']);
    const out = JSON.parse(run.stdout);
    expect(out.npmComponents).toBeGreaterThan(300);
    expect(out.findings.map((f: { advisory: string; package: string; version: string }) => `${f.advisory} ${f.package}@${f.version}`)).toEqual([`TEST-PINO-AFFECTED pino@${pino.version}`]);
    expect([run.exitCode, out.stale]).toEqual([1, false]);
  });
});

describe('licences', () => {
  test('SPDX expressions: OR lets the distributor choose, AND adds every term, unknown is for review', () => {
    expect(classify('MIT')).toBe('permissive');
    expect(classify('(BSD-3-Clause OR GPL-2.0)')).toBe('permissive');
    expect(classify('Apache-2.0 AND LGPL-3.0-or-later AND MIT')).toBe('weak-copyleft');
    expect(classify('GPL-3.0-only')).toBe('strong-copyleft');
    expect(classify('AGPL-3.0-or-later OR (MIT AND GPL-2.0-only)')).toBe('strong-copyleft');
    expect(classify('MIT AND (LGPL-2.1-only OR BSD-3-Clause)')).toBe('permissive');
    expect(classify('SEE LICENSE IN LICENSE.txt')).toBe('undeclared');
    expect(classify(null)).toBe('undeclared');
    expect(classify('Some-Custom-Licence')).toBe('review');
    expect(classify('(MIT')).toBe('review');
  });

  test('the production tree as installed: libvips (LGPL) flagged, node-forge (BSD or GPL) not, no dev dependency listed', () => {
    const rows = licenceRows(productionTree(root));
    const find = (name: string) => rows.find((r) => r.name === name);
    expect(find('@img/sharp-libvips-linux-x64')?.class ?? 'not installed on this platform').toMatch(/weak-copyleft|not installed/);
    expect(find('node-forge')).toMatchObject({ licence: '(BSD-3-Clause OR GPL-2.0)', class: 'permissive' });
    expect(find('vitest')).toBeUndefined();
    expect(find('fast-check')).toBeUndefined();
    expect(find('playwright-core')).toBeUndefined();
    expect(rows.filter((r) => r.class === 'strong-copyleft' || r.class === 'undeclared')).toEqual([]);
  });

  test('docs/install/licenses.md is what the script writes today (regenerate it after a dependency change)', () => {
    const written = fs.readFileSync(path.join(root, 'docs/install/licenses.md'), 'utf8');
    expect(written, 'run: npx tsx scripts/supply-chain/licenses.ts --out docs/install/licenses.md').toBe(licencesMarkdown(licenceRows(productionTree(root)), 'package-lock.json (production dependencies installed on this platform)'));
  });

  test('the command: --fail-on copyleft names the LGPL package and exits 1; --fail-on strong-copyleft passes; an SBOM works as input', async () => {
    const copyleft = await tsx('licenses.ts', ['--fail-on', 'copyleft']);
    expect(copyleft.exitCode).toBe(1);
    expect(copyleft.stderr).toMatch(/licences: @img\/sharp-libvips-linux-x64@[\d.]+ is weak-copyleft \(LGPL-3\.0-or-later\)/);
    expect((await tsx('licenses.ts', ['--fail-on', 'strong-copyleft'])).exitCode).toBe(0);
    const fromSbom = await tsx('licenses.ts', ['--sbom', path.join(fixtures, 'sbom.cdx.json'), '--fail-on', 'review']);
    expect(fromSbom.stdout).toMatch(/^node-forge@1\.4\.4 +\(BSD-3-Clause OR GPL-2\.0\) +$/m);
    expect(fromSbom.stdout).toMatch(/^from-git@github:example\/from-git#main +\(none\) +UNDECLARED$/m);
    expect(fromSbom.exitCode).toBe(1);
    expect((await tsx('licenses.ts', ['--fail-on', 'everything'])).stderr).toContain('--fail-on must be copyleft, strong-copyleft or review');
  });
});
