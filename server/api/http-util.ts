import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorMessage, log } from '../log';
import { DomainError } from '../security/errors';

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

/** The request body parsed as JSON; 413 past the limit, 400 when it is not JSON. */
export async function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) throw new DomainError('PAYLOAD_TOO_LARGE', `The body must be at most ${limitBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw new DomainError('PAYLOAD_TOO_LARGE', `The body must be at most ${limitBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) throw new DomainError('BAD_REQUEST', 'The body is empty: send a JSON object');
  try {
    return JSON.parse(text);
  } catch {
    throw new DomainError('BAD_REQUEST', 'The body is not valid JSON');
  }
}
