import { DrizzleQueryError } from 'drizzle-orm';
import { pino, type Level } from 'pino';

/**
 * Structured one-line JSON logs on stderr. Callers pass metadata, never message content, prompts or
 * secrets: the log is read by operators who must not see users' conversations.
 */
const LEVELS = ['debug', 'info', 'warn', 'error'] as const satisfies readonly Level[];
type LogLevel = (typeof LEVELS)[number];

const logger = pino(
  {
    // The line holds what the caller logged and nothing else: no pid or hostname, `level` as a word.
    base: null,
    timestamp: false,
    formatters: { level: (label) => ({ level: label }) },
    // An Error in the metadata stays `{}` as JSON.stringify writes it: its message and stack may hold
    // what the log must not (callers log errorMessage(e), which is cleaned below).
    serializers: { err: undefined as never },
  },
  // process.stderr itself, written synchronously line by line, not a file descriptor of its own, so
  // the lines keep their order with everything else the process writes there.
  process.stderr,
);

/** LOG_LEVEL is read on every event, as the process may set it after this module loads. */
function current(): typeof logger {
  const wanted = process.env.LOG_LEVEL;
  const level: LogLevel = LEVELS.includes(wanted as LogLevel) ? (wanted as LogLevel) : 'info';
  if (logger.level !== level) logger.level = level;
  return logger;
}

// `msg` first and `t` last: the line reads `{"level":…,"msg":…,…meta,"t":…}`.
const at = (level: LogLevel) => (msg: string, meta?: Record<string, unknown>) =>
  current()[level]({ msg, ...meta, t: new Date().toISOString() });

export const log = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };

/**
 * An error's message for a log line or a row's error column. A failed query's message carries its
 * parameters (emails, hashes, sealed bytes): only the statement and the database's reason are kept.
 */
export function errorMessage(e: unknown): string {
  if (e instanceof DrizzleQueryError) return `Failed query: ${e.query}${e.cause instanceof Error ? `: ${e.cause.message}` : ''}`;
  return e instanceof Error ? e.message : String(e);
}
