import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import type { S3Settings } from '../artifacts/s3-backend';

/**
 * A real S3-API server on loopback for tests: s3rver (npm `s3rver`), which speaks S3's REST protocol over
 * HTTP with SigV4 authentication, multipart uploads and ranged GETs, and keeps each object as a plain file
 * under `directory` (so a test can look at what is at rest, or alter it). It accepts one key pair,
 * S3RVER / S3RVER; any other is refused as S3 would (InvalidAccessKeyId, SignatureDoesNotMatch).
 */
export interface TestS3Server {
  endpoint: string;
  bucket: string;
  /** Where s3rver keeps objects: `<directory>/<bucket>/<key>._S3rver_object`. */
  directory: string;
  /** Settings for s3Backend that reach this server (override what a test needs to get wrong). */
  settings(overrides?: Partial<S3Settings>): S3Settings;
  /** Every request the server answered: method, path with query, and the Range and SSE headers. */
  requests: Array<{ method: string; url: string; range?: string; sse?: string }>;
  /** The file holding an object's bytes at rest. */
  objectFile(key: string): string;
  stop(): Promise<void>;
}

export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export async function startTestS3Server(bucket = 'enclave-test'): Promise<TestS3Server> {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'enclave-s3-'));
  const s3rver = new S3rver({ directory, silent: true, configureBuckets: [{ name: bucket }], vhostBuckets: false });
  await s3rver.configureBuckets();
  const handle = s3rver.callback();
  const requests: TestS3Server['requests'] = [];
  const server = http.createServer((req, res) => {
    const header = (name: string) => (typeof req.headers[name] === 'string' ? (req.headers[name] as string) : undefined);
    requests.push({ method: req.method ?? '', url: req.url ?? '', range: header('range'), sse: header('x-amz-server-side-encryption') });
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    requests,
    bucket,
    directory,
    settings: (overrides = {}) => ({
      endpoint,
      bucket,
      region: 'us-east-1',
      credentials: S3RVER_CREDENTIALS,
      forcePathStyle: true,
      partBytes: 5 * 1024 * 1024,
      ...overrides,
    }),
    objectFile: (key) => path.join(directory, bucket, ...path.dirname(key).split('/').filter((p) => p !== '.'), `${path.basename(key)}._S3rver_object`),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fs.rm(directory, { recursive: true, force: true });
    },
  };
}
