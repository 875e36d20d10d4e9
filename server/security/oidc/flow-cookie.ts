import { hkdfSync } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { readCookie } from '../cookies';
import { seal, unseal } from '../encryption';

/**
 * What a sign-in must remember between leaving for the provider and coming back (the PKCE verifier,
 * state, nonce, where to go after), kept in the browser instead of on the server, so the callback may
 * land on any web process. Sealed (AES-256-GCM under a key derived from the master key): the browser
 * can neither read the verifier nor forge a state. HttpOnly, SameSite=Lax (the provider's redirect is a
 * top-level GET, which carries it), scoped to the callback's path, gone after 10 minutes.
 */
export const FLOW_COOKIE = 'enclave_oidc_flow';
export const FLOW_TTL_SECONDS = 600;

const flowSchema = z.strictObject({
  provider: z.string(),
  verifier: z.string(),
  state: z.string(),
  nonce: z.string(),
  returnTo: z.string(),
  expiresAt: z.number(),
});
export type Flow = z.infer<typeof flowSchema>;

const keys = new WeakMap<Buffer, Buffer>();
function flowKey(masterKey: Buffer): Buffer {
  let key = keys.get(masterKey);
  if (!key) keys.set(masterKey, (key = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'enclave oidc flow cookie v1', 32))));
  return key;
}

export function callbackPath(providerId: string): string {
  return `/api/auth/oidc/${providerId}/callback`;
}

export function sealFlow(masterKey: Buffer, flow: Omit<Flow, 'expiresAt'>, now = Date.now()): string {
  return seal(flowKey(masterKey), Buffer.from(JSON.stringify({ ...flow, expiresAt: now + FLOW_TTL_SECONDS * 1000 }))).toString('base64url');
}

/** The flow this browser started for this provider, or why there is none usable ('missing', 'expired', 'invalid'). */
export function openFlow(masterKey: Buffer, req: Pick<IncomingMessage, 'headers'>, providerId: string, now = Date.now()): Flow | 'missing' | 'expired' | 'invalid' {
  const value = readCookie(req, FLOW_COOKIE);
  if (!value) return 'missing';
  let flow: Flow;
  try {
    flow = flowSchema.parse(JSON.parse(unseal(flowKey(masterKey), Buffer.from(value, 'base64url')).toString('utf8')));
  } catch {
    return 'invalid';
  }
  if (flow.provider !== providerId) return 'invalid';
  return flow.expiresAt < now ? 'expired' : flow;
}

export function flowCookie(providerId: string, value: string, { secure, maxAge }: { secure: boolean; maxAge: number }): string {
  const parts = [`${FLOW_COOKIE}=${value}`, `Path=${callbackPath(providerId)}`, 'HttpOnly', 'SameSite=Lax', `Max-Age=${maxAge}`];
  if (secure) parts.push('Secure');
  return parts.join('; ');
}

/** A same-site path to return to after signing in (as the login page's ?next=), else '/'. */
export function safeReturnPath(next: string | null | undefined): string {
  if (!next || next.length > 2000 || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\') || next.startsWith('/login')) return '/';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(next)) return '/';
  return next;
}
