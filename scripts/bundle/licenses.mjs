// Reads a CycloneDX SBOM and prints one line per component: name, version, licence(s) (tab-separated).
// An operator's legal review reads this; a component with no declared licence says so.
import fs from 'node:fs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node licenses.mjs <sbom.cdx.json>');
  process.exit(2);
}
const sbom = JSON.parse(fs.readFileSync(file, 'utf8'));
if (sbom.bomFormat !== 'CycloneDX' || !Array.isArray(sbom.components)) {
  console.error(`${file} is not a CycloneDX SBOM with components`);
  process.exit(1);
}
const licenceOf = (c) =>
  (c.licenses ?? []).map((l) => l.expression ?? l.license?.id ?? l.license?.name).filter(Boolean).join(' AND ') || 'UNDECLARED';
const rows = sbom.components.map((c) => [c.group ? `${c.group}/${c.name}` : c.name, c.version ?? '', licenceOf(c)]);
rows.sort((a, b) => a[0].localeCompare(b[0]) || a[1].localeCompare(b[1]));
process.stdout.write(['name\tversion\tlicence', ...rows.map((r) => r.join('\t'))].join('\n') + '\n');
