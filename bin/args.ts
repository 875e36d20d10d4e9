import fs from 'node:fs';
import { parseArgs } from 'node:util';

export class UsageError extends Error {}

/**
 * Parses the `--flag value` options and `--flag` switches of one subcommand (node:util parseArgs,
 * strict): an unknown flag or a flag missing its value is a usage error, not ignored.
 */
export function options<S extends string, B extends string = never>(argv: string[], strings: readonly S[], switches: readonly B[] = []) {
  const spec: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const name of strings) spec[name] = { type: 'string' };
  for (const name of switches) spec[name] = { type: 'boolean' };
  try {
    const { values, positionals } = parseArgs({ args: argv, options: spec, allowPositionals: true, strict: true });
    return { values: values as { [K in S]?: string } & { [K in B]?: boolean }, positionals };
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

export function required(value: string | undefined, flag: string): string {
  if (!value) throw new UsageError(`${flag} is required`);
  return value;
}

export const positiveInteger = (n: number) => Number.isInteger(n) && n >= 1;

/**
 * A numeric flag: undefined when it is not given, else a number that passes `valid`, or a usage error
 * saying what the flag must be (`expected`, e.g. "a positive integer").
 */
export function numberFlag(value: string | undefined, flag: string, expected = 'a number', valid: (n: number) => boolean = Number.isFinite): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !valid(n)) throw new UsageError(`${flag} must be ${expected}, got "${value}"`);
  return n;
}

/** The text of a file a flag names; a missing or unreadable file is a usage error naming the flag. */
export function readFlagFile(file: string, flag: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`${flag} ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}
