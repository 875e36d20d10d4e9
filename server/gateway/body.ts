import type { IncomingMessage } from 'node:http';
import { GatewayError } from './errors';

/**
 * Reads a request body up to `limit` bytes. Past the limit it stops reading at once (the caller answers
 * 413 and closes the connection) rather than buffering whatever a client chooses to send.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(tooLarge(limit));
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
      reject(new GatewayError(400, 'invalid_request_error', 'body_read_failed', `Could not read the request body: ${err.message}`));
    };
    const onAborted = () => {
      cleanup();
      reject(new GatewayError(499, 'invalid_request_error', 'client_closed', 'The client closed the connection'));
    };
    function cleanup() {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    }
    const onClose = () => {
      if (!req.complete) onAborted();
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function tooLarge(limit: number): GatewayError {
  return new GatewayError(413, 'invalid_request_error', 'request_too_large', `The request body is larger than ${limit} bytes`, null, {
    connection: 'close',
  });
}
