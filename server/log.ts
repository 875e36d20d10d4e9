/**
 * Structured one-line JSON logs on stderr. Callers pass metadata, never message content, prompts or
 * secrets: the log is read by operators who must not see users' conversations.
 */
type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function threshold(): number {
  const level = (process.env.LOG_LEVEL ?? 'info') as Level;
  return order[level] ?? order.info;
}

function write(level: Level, msg: string, meta?: Record<string, unknown>) {
  if (order[level] < threshold()) return;
  const line = JSON.stringify({ t: new Date().toISOString(), level, msg, ...meta });
  process.stderr.write(line + '\n');
}

export const log = {
  debug: (msg: string, meta?: Record<string, unknown>) => write('debug', msg, meta),
  info: (msg: string, meta?: Record<string, unknown>) => write('info', msg, meta),
  warn: (msg: string, meta?: Record<string, unknown>) => write('warn', msg, meta),
  error: (msg: string, meta?: Record<string, unknown>) => write('error', msg, meta),
};

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
