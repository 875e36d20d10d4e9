/**
 * The CSV nvidia-smi writes for `--query-*` with `--format=csv`: values separated by ", ", no quoting,
 * header names that keep their unit in brackets (`memory.total [MiB]`) even with `nounits`.
 */

/** Every value nvidia-smi prints for data it does not have. Any other bracketed value is treated the same. */
export const MISSING_MARKERS = [
  '[N/A]',
  '[Not Supported]',
  '[Unknown Error]',
  '[Insufficient Permissions]',
  '[Requested functionality has been deprecated]',
  'N/A',
] as const;

export class NvidiaSmiParseError extends Error {
  constructor(message: string) {
    super(`nvidia-smi output: ${message}`);
    this.name = 'NvidiaSmiParseError';
  }
}

export function isMissing(value: string): boolean {
  const v = value.trim();
  // Newer drivers add markers (e.g. "[GPU requires reset]"); a bracketed value is never real data.
  return v === '' || v === 'N/A' || (v.startsWith('[') && v.endsWith(']'));
}

/** `memory.total [MiB]` → `memory.total`; field names are matched without their unit. */
export function fieldName(header: string): string {
  return header.replace(/\s*\[[^\]]*\]\s*$/, '').trim();
}

/** A value with or without its unit ("81559 MiB", "35 %", "69.63 W", "69.63") as a number; null when missing or not numeric. */
export function numberValue(value: string | undefined): number | null {
  if (value === undefined || isMissing(value)) return null;
  const match = /^(-?\d+(?:\.\d+)?)(?:\s*[A-Za-z%]+)?$/.exec(value.trim());
  if (!match) return null;
  const n = Number(match[1]);
  return Number.isFinite(n) ? n : null;
}

export function stringValue(value: string | undefined): string | null {
  if (value === undefined || isMissing(value)) return null;
  return value.trim();
}

export interface CsvTable {
  /** Field names without units, in column order. */
  fields: string[];
  /** Whether each column's header carried a unit (its values are then numbers). */
  hasUnit: boolean[];
  rows: Record<string, string>[];
}

function splitLine(line: string): string[] {
  return line.split(',').map((cell) => cell.trim());
}

/**
 * Splits the output into rows keyed by field name. With `fields`, the text has no header (`noheader`)
 * and the caller names the columns; a header line that matches them anyway is skipped.
 */
export function readCsv(text: string, fields?: string[]): CsvTable {
  const lines = text
    .replace(/\r/g, '')
    .split('\n')
    .filter((line) => line.trim() !== '');
  let headers: string[];
  if (fields) {
    headers = fields.map((f) => f.trim());
    if (lines.length && splitLine(lines[0]!).map(fieldName).join(',') === headers.map(fieldName).join(',')) lines.shift();
  } else {
    const first = lines.shift();
    if (first === undefined) return { fields: [], hasUnit: [], rows: [] };
    headers = splitLine(first);
  }
  const names = headers.map(fieldName);
  const rows = lines.map((line, i) => {
    const cells = splitLine(line);
    if (cells.length !== names.length) {
      throw new NvidiaSmiParseError(`line ${i + (fields ? 1 : 2)} has ${cells.length} values but there are ${names.length} columns (${names.join(', ')})`);
    }
    return Object.fromEntries(names.map((name, j) => [name, cells[j]!]));
  });
  return { fields: names, hasUnit: headers.map((h) => /\[[^\]]*\]\s*$/.test(h)), rows };
}

/** The first of several names nvidia-smi accepts for one field (`name` or `gpu_name`) that the table has. */
export function pick(row: Record<string, string>, ...aliases: string[]): string | undefined {
  for (const alias of aliases) if (alias in row) return row[alias];
  return undefined;
}
