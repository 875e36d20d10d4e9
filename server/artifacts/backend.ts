import type { Readable } from 'node:stream';

/**
 * Where artifact bytes are kept: a directory every role mounts, or an S3-compatible bucket. A backend moves
 * bytes as they are; the sealing (Enclave's envelope encryption) sits above it in store.ts, so both
 * backends hold the same ciphertext and an object can be copied from one to the other unchanged.
 */
export interface ArtifactBackend {
  readonly kind: 'dir' | 's3';
  /** Said in errors and at start: the directory, or `s3://bucket/prefix at endpoint`. */
  readonly where: string;
  /**
   * Streams `body` into `key`. The object becomes visible only once the whole body was written; when the
   * body fails (or is destroyed) nothing of it stays behind. Replaces an existing object.
   */
  write(key: string, body: Readable): Promise<{ bytes: number }>;
  /** The bytes of `key`, or of `range` (`end` inclusive, as in HTTP), streamed. ArtifactError NOT_FOUND when absent. */
  read(key: string, range?: { start: number; end: number }): Promise<Readable>;
  head(key: string): Promise<ArtifactObject | null>;
  /** Idempotent: deleting what is not there is fine. */
  delete(key: string): Promise<void>;
  /** Every object whose key starts with `prefix`, in no promised order. */
  list(prefix: string): AsyncIterable<ArtifactObject>;
  /** Overwrites the first bytes of an object (same length): a header re-sealed under another key. */
  replaceHead(key: string, head: Buffer): Promise<void>;
  /** Checks the store can be used (directory writable, bucket reachable with these credentials); throws an ArtifactError that says why. */
  check(): Promise<void>;
  close(): Promise<void>;
}

export interface ArtifactObject {
  key: string;
  /** Stored bytes (ciphertext for sealed artifacts). */
  bytes: number;
  modified: Date;
}

export type ArtifactErrorCode = 'NOT_FOUND' | 'UNREACHABLE' | 'DENIED' | 'NO_BUCKET' | 'CORRUPT' | 'FAILED';

/** A store failure with a message for an operator (never a raw SDK stack). */
export class ArtifactError extends Error {
  constructor(
    readonly code: ArtifactErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ArtifactError';
  }
}
