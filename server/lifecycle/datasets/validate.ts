import { createHash } from 'node:crypto';
import { checkRow, shapeOf, type DatasetFormat, type Message } from './formats';
import { readLines } from './lines';
import { TokenCounts, type TokenHistogram, type TokenStats } from './stats';

/** Counts the tokens of one text; the base model's tokenizer where one is loaded. */
export type Tokenizer = (text: string) => number | ArrayLike<unknown>;

export type ValidateOptions = {
  tokenize?: Tokenizer;
  /** The format the uploader declared; unset: detected from the first valid row. */
  format?: DatasetFormat;
  /** Bad lines reported one by one; later ones are only counted. */
  maxErrors?: number;
  /** A longer line is an error, so that one line cannot take the process's memory. */
  maxLineBytes?: number;
  previewRows?: number;
};

export type LineError = { line: number; reason: string };

export type DatasetValidation = {
  ok: boolean;
  /** Detected from the first valid row; null when no row was valid. */
  format: DatasetFormat | null;
  rows: number;
  errors: LineError[];
  /** Every bad line, including those past maxErrors. */
  errorCount: number;
  /** Why the file as a whole is refused when no single line is to blame (an empty file). */
  reason?: string;
  stats: { rows: number; messages: number; chars: number; tokens?: TokenStats; tokenHistogram?: TokenHistogram };
  preview: Message[][];
  sha256: string;
  bytes: number;
};

const DEFAULTS = { maxErrors: 100, maxLineBytes: 4 * 1024 * 1024, previewRows: 5 };

/**
 * Validates a JSONL dataset as it streams in: nothing but the current line, the first error reports,
 * the preview and one packed integer per row (only with a tokenizer) is held, whatever the file's size.
 */
export async function validateDataset(source: AsyncIterable<Uint8Array | string>, options: ValidateOptions = {}): Promise<DatasetValidation> {
  const { maxErrors, maxLineBytes, previewRows } = { ...DEFAULTS, ...options };
  const hash = createHash('sha256');
  let bytes = 0;
  let format: DatasetFormat | null = options.format ?? null;
  let formatLine = 0;
  let rows = 0;
  let messages = 0;
  let chars = 0;
  let errorCount = 0;
  const errors: LineError[] = [];
  const preview: Message[][] = [];
  const tokenCounts = options.tokenize ? new TokenCounts() : null;

  const fail = (line: number, reason: string) => {
    errorCount++;
    if (errors.length < maxErrors) errors.push({ line, reason });
  };

  const lines = readLines(source, maxLineBytes, (chunk) => {
    hash.update(chunk);
    bytes += chunk.length;
  });
  for await (const line of lines) {
    if ('error' in line) {
      fail(line.number, line.error);
      continue;
    }
    // Blank lines (a trailing newline, a separator) carry no row and are not an error.
    if (line.text.trim() === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(line.text);
    } catch (e) {
      fail(line.number, `invalid JSON: ${(e as Error).message}`);
      continue;
    }
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      fail(line.number, `expected a JSON object, got ${Array.isArray(row) ? 'an array' : row === null ? 'null' : `a ${typeof row}`}`);
      continue;
    }
    const shape = shapeOf(row as Record<string, unknown>);
    if (!shape) {
      fail(line.number, 'not a dataset row: expected "messages" (OpenAI), "instruction"/"output" (Alpaca) or "conversations" (ShareGPT)');
      continue;
    }
    if (format && shape !== format) {
      fail(line.number, options.format ? `this line is ${shape}, not the declared ${format}` : `mixed formats: this line is ${shape} but the file is ${format} (from line ${formatLine})`);
      continue;
    }
    const checked = checkRow(shape, row as Record<string, unknown>);
    if (!checked.ok) {
      fail(line.number, checked.reason);
      continue;
    }
    if (!formatLine) {
      format = shape;
      formatLine = line.number;
    }
    rows++;
    messages += checked.messages.length;
    let rowTokens = 0;
    for (const m of checked.messages) {
      chars += m.content.length;
      if (options.tokenize) {
        const t = options.tokenize(m.content);
        rowTokens += typeof t === 'number' ? t : t.length;
      }
    }
    tokenCounts?.add(rowTokens);
    if (preview.length < previewRows) preview.push(checked.messages);
  }

  const tokens = tokenCounts?.summary() ?? undefined;
  const tokenHistogram = tokens ? tokenCounts!.histogram() : undefined;
  return {
    ok: errorCount === 0 && rows > 0,
    format,
    rows,
    errors,
    errorCount,
    ...(rows === 0 && errorCount === 0 ? { reason: 'the file has no rows' } : {}),
    stats: { rows, messages, chars, ...(tokens ? { tokens, tokenHistogram } : {}) },
    preview,
    sha256: hash.digest('hex'),
    bytes,
  };
}
