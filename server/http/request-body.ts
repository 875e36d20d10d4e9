import type { IncomingMessage } from 'node:http';

/** How much of a refused body is read and thrown away so the client gets to read the refusal. */
export const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;
/** A body of unknown length (chunked) is drained this long at most: it may never end. */
export const DRAIN_UNKNOWN_LENGTH_MS = 2_000;

/**
 * Reads and discards the rest of a request Enclave has refused (413, 400, 401...). A client such as
 * fetch writes its whole body before it reads the answer: closing the connection under it turns the
 * refusal into EPIPE or ECONNRESET on its side, and the person never learns why. A body that declared
 * its length is drained to its end (up to `limit` bytes); one that did not (chunked) for a couple of
 * seconds at most. Past either, the connection is cut after all: nobody gets to make the server read
 * without end.
 */
export function drainRequest(req: IncomingMessage, limit = DRAIN_LIMIT_BYTES): void {
  if (req.complete || req.destroyed) return;
  let drained = 0;
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > limit) req.socket.destroy();
  });
  if (req.headers['content-length'] === undefined) {
    const cut = setTimeout(() => req.complete || req.socket.destroy(), DRAIN_UNKNOWN_LENGTH_MS);
    cut.unref();
    req.once('end', () => clearTimeout(cut));
  }
  req.resume();
}

export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`The request body is larger than ${limit} bytes`);
  }
}

/**
 * The whole body, up to `limit` bytes. Past it (by Content-Length, or as the bytes come) it rejects
 * with BodyTooLarge and drains the rest (see drainRequest), so the caller can still answer 413.
 */
export function readRequestBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    drainRequest(req);
    return Promise.reject(new BodyTooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        drainRequest(req);
        reject(new BodyTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      if (req.complete) return;
      cleanup();
      reject(new Error('The client closed the connection before the body arrived'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
