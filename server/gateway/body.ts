import type { IncomingMessage } from 'node:http';
import { drainRequest } from '../http/request-body';
import { GatewayError } from './errors';

const READER = Symbol('enclave.bodyReader');
type Owned = IncomingMessage & { [READER]?: BodyReader };

/**
 * Reads a request body up to `limit` bytes. Past the limit it stops keeping what arrives and drains
 * the rest (see drainRequest: a client like fetch writes its whole body before reading, and must get
 * to read the 413), rather than buffering whatever a client chooses to send.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) {
    drainRequest(req);
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => new BodyReader(req as Owned, limit, resolve, reject));
}

// Listeners are module-level functions finding their state on the request: no closures per request.
class BodyReader {
  chunks: Buffer[] = [];
  size = 0;
  constructor(
    readonly req: Owned,
    readonly limit: number,
    readonly resolve: (body: Buffer) => void,
    readonly reject: (err: GatewayError) => void,
  ) {
    req[READER] = this;
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  }

  settle() {
    const req = this.req;
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onError);
    req.off('close', onClose);
    req[READER] = undefined;
  }
}

function onData(this: Owned, chunk: Buffer) {
  const r = this[READER]!;
  r.size += chunk.length;
  if (r.size > r.limit) {
    r.settle();
    drainRequest(this);
    r.reject(tooLarge(r.limit));
    return;
  }
  r.chunks.push(chunk);
}
function onEnd(this: Owned) {
  const r = this[READER]!;
  r.settle();
  r.resolve(r.chunks.length === 1 ? r.chunks[0]! : Buffer.concat(r.chunks, r.size));
}
function onError(this: Owned, err: Error) {
  const r = this[READER]!;
  r.settle();
  r.reject(new GatewayError(400, 'invalid_request_error', 'body_read_failed', `Could not read the request body: ${err.message}`));
}
function onClose(this: Owned) {
  if (this.complete) return;
  const r = this[READER]!;
  r.settle();
  r.reject(new GatewayError(499, 'invalid_request_error', 'client_closed', 'The client closed the connection'));
}

function tooLarge(limit: number): GatewayError {
  return new GatewayError(413, 'invalid_request_error', 'request_too_large', `The request body is larger than ${limit} bytes`);
}
