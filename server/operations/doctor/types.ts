/** One line of `enclave doctor`: what was checked, how it stands, and what to do when it is not ok. */
export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  /** A short, stable name ("database", "tls"): the key scripts read in `--json`. */
  check: string;
  status: CheckStatus;
  /** What was found, in one line. */
  detail: string;
  /** What to do about a warn or a fail. */
  fix?: string;
}

export const ok = (check: string, detail: string): CheckResult => ({ check, status: 'ok', detail });
export const warn = (check: string, detail: string, fix: string): CheckResult => ({ check, status: 'warn', detail, fix });
export const fail = (check: string, detail: string, fix: string): CheckResult => ({ check, status: 'fail', detail, fix });

/** The error's own words, one line. */
export function reason(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
}
