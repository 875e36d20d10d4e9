import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ArtifactError, type ArtifactBackend } from './backend';
import { checkKey, checkPrefix } from './keys';

export interface S3Settings {
  /** Unset: AWS itself (the region's endpoint). */
  endpoint?: string;
  bucket: string;
  region: string;
  /** Prepended to every key, so one bucket can hold several installs (no leading slash; a trailing one is added). */
  prefix?: string;
  /** Unset: the SDK's default chain (environment, instance role, web identity). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Path-style URLs (`endpoint/bucket/key`): most S3-compatible servers want it. */
  forcePathStyle: boolean;
  /** Server-side encryption asked of the server, on top of Enclave's own sealing (never instead of it). */
  sse?: { mode: 'AES256' } | { mode: 'aws:kms'; kmsKeyId?: string };
  /** Multipart part size in bytes (S3's minimum is 5 MiB). */
  partBytes: number;
  /** Parts in flight at once per upload: memory held is about partBytes × this. */
  queueSize?: number;
}

/** What an SDK failure means, in words an operator can act on (the SDK's own error is kept as the cause). */
export function describeS3Error(e: unknown, s: Pick<S3Settings, 'bucket' | 'endpoint'>, what: string): ArtifactError {
  if (e instanceof ArtifactError) return e;
  const at = s.endpoint ?? 'AWS S3';
  const name = (e as { name?: string; Code?: string })?.name ?? '';
  const status = e instanceof S3ServiceException ? e.$metadata.httpStatusCode : undefined;
  const code = (e as NodeJS.ErrnoException)?.code ?? (e as { cause?: NodeJS.ErrnoException })?.cause?.code;
  if (name === 'NoSuchBucket' || (name === 'NotFound' && what === 'check'))
    return new ArtifactError('NO_BUCKET', `The S3 bucket ${s.bucket} does not exist at ${at} (ENCLAVE_S3_BUCKET): create it, or fix the name`, { cause: e });
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) return new ArtifactError('NOT_FOUND', `Artifact ${what} does not exist in s3://${s.bucket}`, { cause: e });
  if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'Forbidden', 'InvalidToken', 'ExpiredToken'].includes(name) || status === 403)
    return new ArtifactError('DENIED', `S3 at ${at} refused the credentials for bucket ${s.bucket} (${name || status}): check ENCLAVE_S3_ACCESS_KEY_ID and the secret, and the bucket policy`, { cause: e });
  if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH'].includes(code ?? '') || name === 'TimeoutError')
    return new ArtifactError('UNREACHABLE', `S3 at ${at} cannot be reached (${code ?? name}): check ENCLAVE_S3_ENDPOINT and the network`, { cause: e });
  return new ArtifactError('FAILED', `S3 ${what} failed at ${at}: ${name || (e as Error)?.message || String(e)}`, { cause: e });
}

/**
 * Artifacts in an S3-compatible bucket. Uploads are multipart and streamed (`Upload` reads the body a part
 * at a time, so a 50 GB model never sits in memory), reads are ranged GETs.
 */
export function s3Backend(s: S3Settings): ArtifactBackend {
  const client = new S3Client({
    endpoint: s.endpoint,
    region: s.region,
    forcePathStyle: s.forcePathStyle,
    credentials: s.credentials,
    // Checksums only where S3 requires them: many S3-compatible servers reject the SDK's newer default trailers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    // A blackholed endpoint fails in seconds rather than hanging an upload; an idle socket (not a long
    // transfer: a 50 GB object streams for minutes) is given up after two minutes.
    requestHandler: { connectionTimeout: 10_000, socketTimeout: 120_000 },
  });
  const prefix = s.prefix ? `${s.prefix.replace(/\/+$/, '')}/` : '';
  const objectKey = (key: string) => prefix + checkKey(key);
  const sse = s.sse ? { ServerSideEncryption: s.sse.mode as ServerSideEncryption, ...(s.sse.mode === 'aws:kms' && s.sse.kmsKeyId ? { SSEKMSKeyId: s.sse.kmsKeyId } : {}) } : {};
  const fail = (e: unknown, what: string) => describeS3Error(e, s, what);

  const backend: ArtifactBackend = {
    kind: 's3',
    where: `s3://${s.bucket}/${prefix} at ${s.endpoint ?? 'AWS S3'}`,
    async write(key, body) {
      let bytes = 0;
      async function* counting(): AsyncGenerator<Buffer> {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          bytes += chunk.length;
          yield chunk;
        }
      }
      const counted = Readable.from(counting());
      const upload = new Upload({
        client,
        params: { Bucket: s.bucket, Key: objectKey(key), Body: counted, ContentType: 'application/octet-stream', ...sse },
        partSize: s.partBytes,
        queueSize: s.queueSize ?? 2,
        // A failed upload's parts are aborted, not left to be billed.
        leavePartsOnError: false,
      });
      try {
        await upload.done();
      } catch (e) {
        body.destroy();
        throw fail(e, key);
      }
      return { bytes };
    },
    async read(key, range) {
      try {
        const out = await client.send(
          new GetObjectCommand({ Bucket: s.bucket, Key: objectKey(key), Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
        );
        return out.Body as Readable;
      } catch (e) {
        throw fail(e, key);
      }
    },
    async head(key) {
      try {
        const out = await client.send(new HeadObjectCommand({ Bucket: s.bucket, Key: objectKey(key) }));
        return { key, bytes: Number(out.ContentLength ?? 0), modified: out.LastModified ?? new Date(0) };
      } catch (e) {
        const err = fail(e, key);
        if (err.code === 'NOT_FOUND') return null;
        throw err;
      }
    },
    async delete(key) {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: s.bucket, Key: objectKey(key) }));
      } catch (e) {
        const err = fail(e, key);
        if (err.code !== 'NOT_FOUND') throw err;
      }
    },
    async *list(listPrefix) {
      checkPrefix(listPrefix);
      let token: string | undefined;
      do {
        let page;
        try {
          page = await client.send(new ListObjectsV2Command({ Bucket: s.bucket, Prefix: prefix + listPrefix, ContinuationToken: token }));
        } catch (e) {
          throw fail(e, `list ${listPrefix}`);
        }
        for (const o of page.Contents ?? []) {
          if (o.Key) yield { key: o.Key.slice(prefix.length), bytes: Number(o.Size ?? 0), modified: o.LastModified ?? new Date(0) };
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    },
    async replaceHead(key, head) {
      // Objects cannot be changed in place: the object is streamed back with its first bytes replaced.
      const source = await backend.read(key);
      async function* replaced(): AsyncGenerator<Buffer> {
        let skip = head.length;
        yield head;
        for await (const raw of source as AsyncIterable<Buffer>) {
          if (skip >= raw.length) {
            skip -= raw.length;
            continue;
          }
          yield skip ? raw.subarray(skip) : raw;
          skip = 0;
        }
        if (skip > 0) throw new ArtifactError('CORRUPT', `Artifact ${key} is shorter than its header`);
      }
      await backend.write(key, Readable.from(replaced()));
    },
    async check() {
      try {
        await client.send(new HeadBucketCommand({ Bucket: s.bucket }));
      } catch (e) {
        throw fail(e, 'check');
      }
      // Reaching the bucket is not being allowed to write to it (a policy may grant HeadBucket alone).
      const probe = `${prefix}.enclave-probe-${randomBytes(6).toString('hex')}`;
      try {
        await client.send(new PutObjectCommand({ Bucket: s.bucket, Key: probe, Body: 'ok', ...sse }));
        await client.send(new DeleteObjectCommand({ Bucket: s.bucket, Key: probe }));
      } catch (e) {
        throw fail(e, 'write check');
      }
    },
    async close() {
      client.destroy();
    },
  };
  return backend;
}
