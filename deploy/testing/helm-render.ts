import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { createExecutor } from './go-template/execute';
import { parseTemplate, TemplateError, type Node } from './go-template/parse';

/**
 * `helm template` for charts/enclave without helm (not installable here): Chart.yaml, values.yaml merged
 * with overrides as Helm merges them, every template rendered by the Go-template subset in go-template/,
 * and each output split into documents and parsed as Kubernetes parses YAML (1.1: `on`/`yes` are booleans).
 */

export interface Release {
  name: string;
  namespace: string;
}

export interface RenderedDocument {
  /** The template file that produced it, as Helm's `# Source:` comment names it. */
  source: string;
  object: Record<string, unknown>;
}

export type Values = Record<string, unknown>;

const isMap = (v: unknown): v is Values => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Helm's coalescing: maps merge key by key, anything else (lists included) is replaced, null deletes. */
export function mergeValues(base: Values, override: Values): Values {
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(override)) {
    if (v === null) delete out[k];
    else if (isMap(v) && isMap(out[k])) out[k] = mergeValues(out[k] as Values, v);
    else out[k] = v;
  }
  return out;
}

export function readYamlFile(file: string): Values {
  const doc = YAML.parse(fs.readFileSync(file, 'utf8'), { version: '1.1' }) as unknown;
  if (doc !== null && !isMap(doc)) throw new Error(`${file}: not a map`);
  return (doc ?? {}) as Values;
}

export function chartDefaults(chartDir: string): Values {
  return readYamlFile(path.join(chartDir, 'values.yaml'));
}

export function renderChart(chartDir: string, overrides: Values = {}, release: Release = { name: 'enclave', namespace: 'enclave' }): RenderedDocument[] {
  return renderRelease(chartDir, overrides, release).docs;
}

/** The rendered objects and NOTES.txt (what `helm install` prints), rendered by the same engine. */
export function renderRelease(chartDir: string, overrides: Values = {}, release: Release = { name: 'enclave', namespace: 'enclave' }): { docs: RenderedDocument[]; notes?: string } {
  const chart = readYamlFile(path.join(chartDir, 'Chart.yaml'));
  const values = mergeValues(chartDefaults(chartDir), overrides);
  const templatesDir = path.join(chartDir, 'templates');
  const files = fs.readdirSync(templatesDir).filter((f) => /\.(ya?ml|tpl)$/.test(f)).sort();
  for (const f of fs.readdirSync(templatesDir)) {
    if (!files.includes(f) && f !== 'NOTES.txt') throw new Error(`${f}: a template file this renderer does not read (only .yaml, .yml, .tpl)`);
  }

  const defines = new Map<string, Node[]>();
  const parsed = files.map((f) => {
    const p = parseTemplate(fs.readFileSync(path.join(templatesDir, f), 'utf8'), `templates/${f}`);
    for (const [name, nodes] of p.defines) {
      if (defines.has(name)) throw new TemplateError(`templates/${f}: "${name}" is defined twice`);
      defines.set(name, nodes);
    }
    return { file: f, nodes: p.nodes };
  });

  const root = {
    Values: values,
    Release: { Name: release.name, Namespace: release.namespace, Service: 'Helm', IsInstall: true, IsUpgrade: false, Revision: 1 },
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
    Files: {
      Get: (name: unknown) => {
        const file = path.resolve(chartDir, String(name));
        // Helm returns "" for a missing file; here that is an error, so a renamed file cannot ship empty.
        if (!file.startsWith(path.resolve(chartDir) + path.sep) || !fs.existsSync(file)) throw new TemplateError(`.Files.Get: no file ${String(name)} in the chart`);
        return fs.readFileSync(file, 'utf8');
      },
    },
  };
  const executor = createExecutor(defines, {});

  const docs: RenderedDocument[] = [];
  for (const { file, nodes } of parsed) {
    // Files starting with _ hold helpers only (Helm renders them to nothing).
    if (file.startsWith('_')) continue;
    const text = executor.render(nodes, root, `templates/${file}`);
    for (const doc of YAML.parseAllDocuments(text, { version: '1.1' })) {
      if (doc.errors.length) throw new Error(`templates/${file}: rendered YAML does not parse: ${doc.errors[0].message}\n${text}`);
      const object = doc.toJS() as unknown;
      if (object === null || object === undefined) continue;
      if (!isMap(object)) throw new Error(`templates/${file}: a rendered document is not a map`);
      docs.push({ source: `templates/${file}`, object });
    }
  }
  const notesFile = path.join(templatesDir, 'NOTES.txt');
  const notes = fs.existsSync(notesFile) ? executor.render(parseTemplate(fs.readFileSync(notesFile, 'utf8'), 'templates/NOTES.txt').nodes, root, 'templates/NOTES.txt') : undefined;
  return { docs, notes };
}
