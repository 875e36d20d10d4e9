import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * How Enclave signs a tool call, and how a plugin checks it. Enclave POSTs JSON with two headers:
 * `x-enclave-timestamp` (Unix milliseconds) and `x-enclave-signature`, the hex HMAC-SHA256 of
 * `${timestamp}.${body}` under the tool's secret. A plugin recomputes it over the raw body it received
 * and refuses a timestamp outside the replay window (5 minutes either way), so a captured request
 * cannot be sent again later. This file imports nothing from Enclave: plugin authors may copy it.
 */
export const TIMESTAMP_HEADER = 'x-enclave-timestamp';
export const SIGNATURE_HEADER = 'x-enclave-signature';
export const REPLAY_WINDOW_MS = 5 * 60_000;

export function signEnclaveBody(secret: string, timestamp: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

export type Verdict = { ok: true } | { ok: false; reason: 'missing headers' | 'bad timestamp' | 'outside the replay window' | 'bad signature' };

/** Checks a request Enclave sent: the raw body as received, and the two headers. */
export function verifyEnclaveSignature(opts: {
  secret: string;
  body: string | Buffer;
  timestamp: string | undefined | null;
  signature: string | undefined | null;
  now?: number;
  windowMs?: number;
}): Verdict {
  const { timestamp, signature } = opts;
  if (!timestamp || !signature) return { ok: false, reason: 'missing headers' };
  if (!/^\d{1,16}$/.test(timestamp)) return { ok: false, reason: 'bad timestamp' };
  if (Math.abs((opts.now ?? Date.now()) - Number(timestamp)) > (opts.windowMs ?? REPLAY_WINDOW_MS)) return { ok: false, reason: 'outside the replay window' };
  const expected = Buffer.from(signEnclaveBody(opts.secret, timestamp, opts.body.toString()), 'hex');
  const given = /^[0-9a-f]{64}$/i.test(signature) ? Buffer.from(signature, 'hex') : Buffer.alloc(0);
  // Constant time, so the signature cannot be guessed a byte at a time.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad signature' };
  return { ok: true };
}
