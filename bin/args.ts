import { parseArgs } from 'node:util';

export class UsageError extends Error {}

/** Parses `--flag value` options for one subcommand; unknown flags are a usage error, not ignored. */
export function options<T extends Record<string, { type: 'string' | 'boolean'; short?: string }>>(argv: string[], spec: T) {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: spec, allowPositionals: true, strict: true });
    return { values: values as { [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : string }, positionals };
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

export function required(value: string | undefined, flag: string): string {
  if (!value) throw new UsageError(`${flag} is required`);
  return value;
}
