import type { MessageKey } from '../i18n/en';
import { errorCode, isTRPCError } from './trpc';

type Translate = (key: MessageKey) => string;

/**
 * Turns any error a call can throw into one sentence a person can read. Input validation errors
 * arrive as a JSON list of zod issues; those become their messages joined, never the raw JSON.
 */
export function readableError(err: unknown, t: Translate): string {
  if (isTRPCError(err)) {
    const code = errorCode(err);
    if (code === 'UNAUTHORIZED') return t('common.sessionExpired');
    if (code === 'FORBIDDEN' && !err.message) return t('common.forbidden');
    const issues = parseZodIssues(err.message);
    if (issues) return issues;
    if (err.message && !/^(fetch failed|failed to fetch|networkerror)/i.test(err.message)) return err.message;
    return t('common.networkError');
  }
  if (err instanceof TypeError) return t('common.networkError');
  if (err instanceof Error && err.message) return err.message;
  return t('common.unknownError');
}

function parseZodIssues(message: string): string | undefined {
  if (!message.trim().startsWith('[')) return undefined;
  try {
    const issues = JSON.parse(message) as Array<{ message?: string; path?: Array<string | number> }>;
    if (!Array.isArray(issues) || issues.length === 0) return undefined;
    return issues
      .map((i) => (i.path?.length ? `${i.path.join('.')}: ${i.message ?? ''}` : (i.message ?? '')))
      .join('; ');
  } catch {
    return undefined;
  }
}
