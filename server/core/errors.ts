/**
 * The errors domain code throws on purpose. Each carries a code and the HTTP status it means, and its
 * message is written for the person who caused it. Anything else thrown is an internal error whose
 * message never reaches a client (see server/api/trpc.ts and server/api/http.ts).
 */
export const DOMAIN_ERROR_STATUS = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  TOO_MANY_REQUESTS: 429,
  BAD_GATEWAY: 502,
  SERVICE_UNAVAILABLE: 503,
  GATEWAY_TIMEOUT: 504,
} as const;

export type DomainErrorCode = keyof typeof DOMAIN_ERROR_STATUS;

export class DomainError extends Error {
  readonly status: number;
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    status?: number,
  ) {
    super(message);
    this.name = 'DomainError';
    this.status = status ?? DOMAIN_ERROR_STATUS[code];
  }
}

/** The code that best describes an HTTP status someone else (the gateway) answered with. */
export function codeForStatus(status: number): DomainErrorCode {
  const found = Object.entries(DOMAIN_ERROR_STATUS).find(([, s]) => s === status);
  if (found) return found[0] as DomainErrorCode;
  return status >= 500 ? 'BAD_GATEWAY' : 'BAD_REQUEST';
}

export const notFound = (what = 'Not found') => new DomainError('NOT_FOUND', what);
