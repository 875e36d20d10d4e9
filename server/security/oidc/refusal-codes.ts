/**
 * The codes an OIDC sign-in refusal sends to /login?error=<code>. A file of its own, importing nothing,
 * so the login page (a client component) shares the one list with the server.
 */
export const REFUSALS = [
  'misconfigured',
  'unreachable',
  'state-mismatch',
  'flow-expired',
  'provider-refused',
  'token-invalid',
  'token-expired',
  'email-unverified',
  'no-role',
  'no-account',
  'account-exists',
  'disabled',
  'failed',
] as const;
export type Refusal = (typeof REFUSALS)[number];
