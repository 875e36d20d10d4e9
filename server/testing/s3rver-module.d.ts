// s3rver ships no types: the tests start it, add a bucket and stop it, typed here for those calls.
declare module 's3rver' {
  export default class S3rver {
    constructor(options: {
      address?: string;
      port?: number;
      directory: string;
      silent?: boolean;
      configureBuckets?: Array<{ name: string }>;
      allowMismatchedSignatures?: boolean;
      vhostBuckets?: boolean;
    });
    configureBuckets(): Promise<void>;
    /** Koa's request handler: the tests serve it from their own listener, to see each request. */
    callback(): (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void;
  }
}
