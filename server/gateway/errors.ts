import type { ServerResponse } from 'node:http';

/** OpenAI's error types, plus the codes Enclave answers with. */
export type OpenAIErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'api_error'
  | 'timeout_error';

/** A refusal the gateway answers itself, in OpenAI's error object. `code` also becomes the log's error_type. */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    readonly type: OpenAIErrorType,
    readonly code: string,
    message: string,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function errorBody(type: string, code: string | null, message: string, param: string | null = null): string {
  return JSON.stringify({ error: { message, type, param, code } });
}

/** Writes an error unless headers went out already; the caller ends the request either way. */
export function sendError(res: ServerResponse, err: GatewayError, extraHeaders: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const body = errorBody(err.type, err.code, err.message, err.param);
  res.writeHead(err.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...err.headers,
    ...extraHeaders,
  });
  res.end(body);
}
