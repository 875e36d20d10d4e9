import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { expect, it } from 'vitest';

/**
 * The map of docs/architecture.md, checked: folders sit in layers, and code imports only from lower
 * layers (type imports included), so no two folders import each other and no files go round in a
 * circle. Tests and test support (`*.test.ts`, `testing/`) may reach anywhere and are not counted.
 * A new folder must be given a layer here (and in docs/architecture.md) before it can hold code.
 */
const LAYERS: string[][] = [
  ['server/core'],
  ['server/db'],
  ['server/security', 'server/process', 'server/gguf'],
  ['server/knowledge'],
  ['server/http', 'server/engines', 'server/chat', 'server/services', 'server/artifacts', 'server/tools'],
  ['server/gpu', 'server/gateway'],
  ['server/lifecycle'],
  ['server/evaluation', 'server/fleet', 'server/operations'],
  ['server/api', 'workers'],
  ['server/roles'],
  ['app', 'bin', 'bench', 'trainers'],
];

const root = path.resolve(import.meta.dirname, '..');
const SOURCE = /\.(ts|tsx|mjs)$/;
const isTestCode = (rel: string) => /\.test\.tsx?$|(^|\/)testing\//.test(rel) || rel.startsWith('e2e/');

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) sourceFiles(rel, out);
    else if (SOURCE.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** `server/gpu/planner/search.ts` → `server/gpu`; `app/jobs/page.tsx` → `app`. */
function folderOf(rel: string): string {
  const parts = rel.split('/');
  return parts[0] === 'server' ? `server/${parts[1]}` : parts[0]!;
}

function resolveImport(fromRel: string, spec: string): string | null {
  const base = path.join(path.dirname(fromRel), spec);
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, `${base}.mjs`, `${base}/index.ts`]) {
    const abs = path.join(root, candidate);
    if (fs.existsSync(abs) && fs.statSync(abs).isFile()) return path.normalize(candidate);
  }
  return null;
}

/** Every relative import of every non-test source file, type imports included. */
function imports(): [from: string, to: string][] {
  const edges: [string, string][] = [];
  for (const rel of ['server', 'workers', 'trainers', 'bin', 'bench', 'app'].flatMap((d) => sourceFiles(d))) {
    if (isTestCode(rel)) continue;
    const info = ts.preProcessFile(fs.readFileSync(path.join(root, rel), 'utf8'), true, true);
    for (const { fileName } of info.importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = resolveImport(rel, fileName);
      if (target && !isTestCode(target)) edges.push([rel, target]);
    }
  }
  return edges;
}

const layerOf = new Map(LAYERS.flatMap((folders, layer) => folders.map((f) => [f, layer] as const)));

it('every folder holding code has a layer', () => {
  const folders = new Set(imports().flatMap(([a, b]) => [folderOf(a), folderOf(b)]));
  expect([...folders].filter((f) => !layerOf.has(f)).sort()).toEqual([]);
});

it('code imports only from lower layers: no two folders import each other', () => {
  const upward = new Set<string>();
  for (const [from, to] of imports()) {
    const a = folderOf(from);
    const b = folderOf(to);
    if (a === b) continue;
    if ((layerOf.get(b) ?? Infinity) >= (layerOf.get(a) ?? -Infinity)) upward.add(`${from} -> ${to} (${a} may not import ${b})`);
  }
  expect([...upward].sort()).toEqual([]);
});

it('no files import each other in a circle', () => {
  const graph = new Map<string, string[]>();
  for (const [a, b] of imports()) graph.set(a, [...(graph.get(a) ?? []), b]);
  // Tarjan's strongly connected components: any with more than one file is a circle.
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) circles.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  expect(circles).toEqual([]);
});
