/**
 * A tool's parameters: the JSON schema the model fills in. Checked structurally at save time (an object
 * schema whose properties are schemas, `required` naming only its properties, known types), which is
 * what an OpenAI-style model needs; a full meta-schema validator would add a run-time dependency for
 * little. An OpenAPI document with exactly one operation may stand in: its JSON request body schema, or
 * its parameters gathered into one object schema, becomes the tool's parameters.
 */
type Json = Record<string, unknown>;
const TYPES = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export class ParametersError extends Error {}

function checkSchema(schema: unknown, path: string, depth: number): void {
  if (depth > 16) throw new ParametersError(`${path}: nested too deeply`);
  if (!isObject(schema)) throw new ParametersError(`${path}: must be a JSON schema object`);
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  for (const t of types) if (typeof t !== 'string' || !TYPES.has(t)) throw new ParametersError(`${path}.type: unknown type ${JSON.stringify(t)}`);
  if (schema.properties !== undefined) {
    if (!isObject(schema.properties)) throw new ParametersError(`${path}.properties: must be an object`);
    for (const [k, v] of Object.entries(schema.properties)) checkSchema(v, `${path}.properties.${k}`, depth + 1);
  }
  if (schema.required !== undefined) {
    if (!Array.isArray(schema.required) || schema.required.some((r) => typeof r !== 'string')) throw new ParametersError(`${path}.required: must be a list of property names`);
    const props = isObject(schema.properties) ? schema.properties : {};
    const unknown = (schema.required as string[]).filter((r) => !(r in props));
    if (unknown.length) throw new ParametersError(`${path}.required: names ${unknown.join(', ')}, not among the properties`);
  }
  if (schema.items !== undefined) checkSchema(schema.items, `${path}.items`, depth + 1);
  if (schema.enum !== undefined && (!Array.isArray(schema.enum) || schema.enum.length === 0)) throw new ParametersError(`${path}.enum: must be a non-empty list`);
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    if (schema[key] === undefined) continue;
    if (!Array.isArray(schema[key])) throw new ParametersError(`${path}.${key}: must be a list of schemas`);
    (schema[key] as unknown[]).forEach((s, i) => checkSchema(s, `${path}.${key}[${i}]`, depth + 1));
  }
}

/** The parameters schema, checked; the model's function parameters must describe an object. */
export function checkParameters(schema: unknown): Json {
  checkSchema(schema, 'parameters', 0);
  const s = schema as Json;
  if (s.type !== 'object') throw new ParametersError('parameters.type: must be "object" (the model passes named arguments)');
  if (JSON.stringify(s).length > 32_000) throw new ParametersError('parameters: larger than 32,000 characters');
  return s;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/** The parameters of an OpenAPI 3 document's one operation, with its summary as a description when it has one. */
export function parametersFromOpenApi(doc: unknown): { parameters: Json; description: string } {
  if (!isObject(doc) || typeof doc.openapi !== 'string' || !isObject(doc.paths)) throw new ParametersError('openapi: not an OpenAPI 3 document (needs "openapi" and "paths")');
  const ops: Json[] = [];
  for (const item of Object.values(doc.paths)) if (isObject(item)) for (const m of METHODS) if (isObject(item[m])) ops.push(item[m] as Json);
  if (ops.length !== 1) throw new ParametersError(`openapi: must describe exactly one operation, found ${ops.length}`);
  const op = ops[0]!;
  const description = String(op.description ?? op.summary ?? '');
  const body = isObject(op.requestBody) && isObject(op.requestBody.content) ? (op.requestBody.content as Json)['application/json'] : undefined;
  if (isObject(body) && isObject(body.schema)) {
    if (typeof body.schema.$ref === 'string') throw new ParametersError('openapi: $ref schemas are not supported; inline the request body schema');
    return { parameters: checkParameters(body.schema), description };
  }
  const properties: Json = {};
  const required: string[] = [];
  for (const p of Array.isArray(op.parameters) ? op.parameters : []) {
    if (!isObject(p) || typeof p.name !== 'string') throw new ParametersError('openapi: each parameter needs a name');
    properties[p.name] = { ...(isObject(p.schema) ? p.schema : { type: 'string' }), ...(typeof p.description === 'string' ? { description: p.description } : {}) };
    if (p.required === true) required.push(p.name);
  }
  return { parameters: checkParameters({ type: 'object', properties, ...(required.length ? { required } : {}) }), description };
}
