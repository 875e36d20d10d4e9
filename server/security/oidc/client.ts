import * as client from 'openid-client';
import { OutboundFailed, outboundRequest } from '../outbound/request';
import type { OutboundPolicy } from '../outbound/policy';
import type { ProviderConfig } from './config';

const TIMEOUT_MS = 10_000;

/**
 * openid-client's HTTP calls (discovery, JWKS, token, userinfo) made through the outbound policy: the
 * issuer is admin configuration, so it meets the rules every configured URL meets (a provider on
 * loopback or this host needs ENCLAVE_OUTBOUND_ALLOW), and redirects are never followed.
 */
function policyFetch(policy: OutboundPolicy): client.CustomFetch {
  return async (url, options) => {
    const headers: Record<string, string> = { ...options.headers };
    const body = options.body === undefined || options.body === null ? undefined : String(options.body);
    const answer = await outboundRequest(url, { method: options.method as 'GET' | 'POST', headers, body, timeoutMs: TIMEOUT_MS, signal: options.signal, maxBodyBytes: 512 * 1024 }, policy);
    const out = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) out.append(name, v);
    }
    const empty = answer.status === 204 || answer.status === 304;
    return new Response(empty ? null : new Uint8Array(answer.body), { status: answer.status, headers: out });
  };
}

/** The client's authentication at the token endpoint: Basic with a secret (the spec's default), none for a public client (PKCE alone). */
function clientAuth(p: ProviderConfig): client.ClientAuth {
  return p.clientSecret ? client.ClientSecretBasic(p.clientSecret) : client.None();
}

/** Builds the provider's configuration: discovery from the issuer, or the static endpoints given instead. */
async function configure(p: ProviderConfig, policy: OutboundPolicy): Promise<client.Configuration> {
  const fetcher = policyFetch(policy);
  const metadata: Partial<client.ClientMetadata> = { [client.clockTolerance]: p.clockSkewSeconds };
  const insecure = p.issuer.startsWith('http:');
  let config: client.Configuration;
  if (p.metadata) {
    config = new client.Configuration({ issuer: p.issuer, ...p.metadata }, p.clientId, metadata, clientAuth(p));
    config[client.customFetch] = fetcher;
    if (insecure) client.allowInsecureRequests(config);
  } else {
    config = await client.discovery(new URL(p.issuer), p.clientId, metadata, clientAuth(p), {
      [client.customFetch]: fetcher,
      timeout: TIMEOUT_MS / 1000,
      ...(insecure ? { execute: [client.allowInsecureRequests] } : {}),
    });
  }
  config.timeout = TIMEOUT_MS / 1000;
  // Without this the ID token's signature is not checked when it comes from the token endpoint (TLS
  // alone is trusted); Enclave checks it against the provider's JWKS as well.
  client.enableNonRepudiationChecks(config);
  return config;
}

const configurations = new WeakMap<ProviderConfig, Promise<client.Configuration>>();

/**
 * The provider's configuration, discovered once per process. A failed discovery is not kept, so the
 * next sign-in tries again (the provider may be back). Keys the provider rotates are fetched again by
 * openid-client when a token names a key it has not seen.
 */
export function providerConfiguration(p: ProviderConfig, policy: OutboundPolicy): Promise<client.Configuration> {
  let found = configurations.get(p);
  if (!found) {
    found = configure(p, policy);
    configurations.set(p, found);
    found.catch(() => configurations.delete(p));
  }
  return found;
}

/** True when the error means the provider could not be reached (or answered something that is not HTTP). */
export function unreachable(e: unknown): boolean {
  for (let at: unknown = e, depth = 0; at && depth < 5; at = (at as { cause?: unknown }).cause, depth++) {
    if (at instanceof OutboundFailed) return true;
    if ((at as { name?: string }).name === 'OutboundRefused') return false;
    if ((at as { name?: string }).name === 'TimeoutError' || (at as { name?: string }).name === 'AbortError') return true;
  }
  return false;
}
