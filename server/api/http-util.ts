import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorMessage, log } from '../core/log';
import { BodyTooLarge, readRequestBody } from '../http/request-body';
import { DomainError } from '../core/errors';
import { describeInputProblem, exceedsJsonDepth, findInputProblem, MAX_JSON_DEPTH } from '../core/json-input';

/** Every /api answer may carry someone's data (decrypted chats included): never stored by a cache. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** `{ error: { message, code, status } }`; internal errors are logged (no content) and never described. */
export function sendError(res: ServerResponse, error: unknown, where: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (error instanceof DomainError) return sendJson(res, error.status, { error: { message: error.message, code: error.code, status: error.status } });
  log.error('api request failed', { where, error: errorMessage(error) });
  sendJson(res, 500, { error: { message: 'Internal error', code: 'INTERNAL_SERVER_ERROR', status: 500 } });
}

/**
 * The request body parsed as JSON: 413 past the limit (the rest is drained so the client reads the
 * answer), 400 when it is not JSON, nests too deep, or holds a string PostgreSQL or UTF-8 cannot carry.
 */
export async function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  let raw: Buffer;
  try {
    raw = await readRequestBody(req, limitBytes);
  } catch (e) {
    if (e instanceof BodyTooLarge) throw new DomainError('PAYLOAD_TOO_LARGE', `The body must be at most ${limitBytes} bytes`);
    throw e;
  }
  const text = raw.toString('utf8');
  if (!text.trim()) throw new DomainError('BAD_REQUEST', 'The body is empty: send a JSON object');
  if (exceedsJsonDepth(raw)) throw new DomainError('BAD_REQUEST', `The body nests deeper than ${MAX_JSON_DEPTH} levels`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new DomainError('BAD_REQUEST', 'The body is not valid JSON');
  }
  const problem = findInputProblem(body);
  if (problem) throw new DomainError('BAD_REQUEST', describeInputProblem(problem, 'The body'));
  return body;
}
