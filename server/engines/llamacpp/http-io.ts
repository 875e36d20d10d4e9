import type { IncomingMessage, ServerResponse } from 'node:http';
import { EngineError } from './errors';

// Above the gateway's default GATEWAY_MAX_BODY_BYTES (4 MiB): whatever the gateway accepts, the engine does too.
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** Reads and parses a JSON body, refusing more than `limit` bytes without buffering them. */
export function readJsonBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<unknown> {
  const tooLarge = () => new EngineError(413, `The request body exceeds ${limit} bytes.`, 'invalid_request_error', null, 'request_too_large');
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (error: EngineError) => {
      if (settled) return;
      settled = true;
      reject(error);
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) fail(tooLarge());
      else chunks.push(chunk);
    });
    req.on('error', () => fail(new EngineError(400, 'The request body could not be read.')));
    req.on('end', () => {
      if (settled) return;
      settled = true;
      const raw = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(JSON.parse(raw));
      } catch {
        reject(new EngineError(400, 'The request body is not valid JSON.', 'invalid_request_error', null, 'invalid_json'));
      }
    });
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers });
  res.end(payload);
}

/**
 * Answers with OpenAI's error object. A body refused unread (too large, or no key) is drained (Node
 * discards what is left of it) rather than cut: closing at once makes the client's next write fail with
 * EPIPE/RST, and the client may then lose the answer that explains why. The request timeout bounds it.
 */
export function sendError(res: ServerResponse, error: EngineError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (!res.req.readableEnded) res.req.resume();
  sendJson(res, error.status, error.toBody());
}

export function startEventStream(res: ServerResponse): (data: unknown) => void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();
  return (data) => {
    if (!res.writableEnded && !res.destroyed) res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
  };
}
