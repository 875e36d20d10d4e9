import { OutboundRefused } from '../outbound/policy';
import { unreachable } from './client';

/**
 * Why an OIDC sign-in was refused: the code travels to /login?error=<code>, where the page says it in a
 * sentence (app/i18n: login.oidc.<code>). Nothing else about the failure reaches the browser; the audit
 * row and the log keep the detail (never a token, code or secret).
 */
export { REFUSALS, type Refusal } from './refusal-codes';
import type { Refusal } from './refusal-codes';

export class OidcRefused extends Error {
  constructor(
    readonly refusal: Refusal,
    /** For the audit row and the log: what went wrong, in words that hold no secret. */
    readonly detail: string,
    readonly userId?: string,
  ) {
    super(`OIDC sign-in refused (${refusal}): ${detail}`);
    this.name = 'OidcRefused';
  }
}

/** oauth4webapi's error codes (openid-client passes them through) mapped to what the person is told. */
const BY_CODE: Record<string, Refusal> = {
  OAUTH_JWT_TIMESTAMP_CHECK_FAILED: 'token-expired',
  OAUTH_AUTHORIZATION_RESPONSE_ERROR: 'provider-refused',
  // The token endpoint said no: a code used twice or too late, a client secret it does not accept.
  OAUTH_RESPONSE_BODY_ERROR: 'provider-refused',
  OAUTH_JWT_CLAIM_COMPARISON_FAILED: 'token-invalid',
  OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED: 'token-invalid',
  OAUTH_KEY_SELECTION_FAILED: 'token-invalid',
  OAUTH_INVALID_RESPONSE: 'token-invalid',
  OAUTH_PARSE_ERROR: 'token-invalid',
  OAUTH_MISSING_SERVER_METADATA: 'misconfigured',
  OAUTH_INVALID_SERVER_METADATA: 'misconfigured',
  OAUTH_HTTP_REQUEST_FORBIDDEN: 'misconfigured',
  OAUTH_REQUEST_PROTOCOL_FORBIDDEN: 'misconfigured',
};

/** The refusal an error thrown while talking to the provider means. */
export function refusalOf(e: unknown): OidcRefused {
  if (e instanceof OidcRefused) return e;
  // openid-client's own message is generic ("invalid response encountered"); oauth4webapi's, its cause, says which check failed.
  const cause = (e as { cause?: unknown }).cause;
  const message = (e instanceof Error ? e.message : String(e)) + (cause instanceof Error && cause.message ? `: ${cause.message}` : '');
  if (unreachable(e)) return new OidcRefused('unreachable', `the provider cannot be reached: ${causeOf(e)}`);
  for (let at: unknown = e, depth = 0; at && depth < 5; at = (at as { cause?: unknown }).cause, depth++) {
    if (at instanceof OutboundRefused) return new OidcRefused('misconfigured', `the issuer's URL is ${at.message}`);
  }
  const code = (e as { code?: unknown }).code;
  const refusal = typeof code === 'string' ? BY_CODE[code] : undefined;
  // The provider's own words for an error response (error, error_description) are kept: they say why.
  const said = (e as { error?: unknown }).error ? ` (${String((e as { error?: unknown }).error)})` : '';
  return new OidcRefused(refusal ?? 'failed', `${message}${said}`);
}

function causeOf(e: unknown): string {
  for (let at: unknown = e, depth = 0; at && depth < 5; at = (at as { cause?: unknown }).cause, depth++) {
    const detail = (at as { detail?: unknown }).detail;
    if (typeof detail === 'string') return detail;
  }
  return e instanceof Error ? e.message : String(e);
}
