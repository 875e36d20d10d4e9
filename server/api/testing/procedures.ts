import { appRouter } from '../router';

/** The router's procedures as tests enumerate them: a new procedure is in every generated test at once. */
type Procedure = { _def: { type: 'query' | 'mutation' | 'subscription'; inputs: { shape?: Record<string, unknown>; unwrap?: () => unknown }[] } };
const procedures = (appRouter as unknown as { _def: { procedures: Record<string, Procedure> } })._def.procedures;

export function procedurePaths(): string[] {
  return Object.keys(procedures).sort();
}

export function procedureKind(path: string): 'query' | 'mutation' {
  return procedures[path]!._def.type === 'mutation' ? 'mutation' : 'query';
}

/** The top-level field names of a procedure's input (through .optional() and the like). */
export function inputKeys(path: string): string[] {
  let schema = procedures[path]!._def.inputs[0] as { shape?: Record<string, unknown>; unwrap?: () => unknown } | undefined;
  while (schema && !schema.shape && typeof schema.unwrap === 'function') schema = schema.unwrap() as typeof schema;
  return schema?.shape ? Object.keys(schema.shape) : [];
}
