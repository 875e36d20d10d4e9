import * as client from 'openid-client';
import type { Db } from '../../db/client';
import { log } from '../../core/log';
import { writeAudit } from '../audit';
import { auditRefusal } from '../denial-audit';
import { announceCredentialChange } from '../credential-events';
import type { OutboundPolicy } from '../outbound/policy';
import { openSession, type SignInResult } from '../sign-in';
import { normalizeEmail } from '../users';
import { oidcAccount, type OidcIdentity } from './accounts';
import { providerConfiguration } from './client';
import { claimValues, roleForClaims, type OidcSettings, type ProviderConfig } from './config';
import type { Flow } from './flow-cookie';
import { OidcRefused, refusalOf } from './refusals';

export interface OidcCall {
  settings: OidcSettings;
  providerId: string;
  policy: OutboundPolicy;
  /** `<origin>/api/auth/oidc/<id>/callback`: what the provider must have registered. */
  redirectUri: string;
  clientAddress: string;
}

function providerOf(call: OidcCall): ProviderConfig {
  if (call.settings.misconfigured) throw new OidcRefused('misconfigured', call.settings.misconfigured);
  const p = call.settings.providers.find((x) => x.id === call.providerId);
  if (!p) throw new OidcRefused('misconfigured', `no provider "${call.providerId.slice(0, 60)}" is configured`);
  return p;
}

/**
 * The way out to the provider: an authorization request (code, PKCE S256, fresh state and nonce) and
 * the flow the browser keeps until it comes back. A provider that cannot be discovered is a refusal.
 */
export async function startOidcSignIn(call: OidcCall, returnTo: string): Promise<{ url: URL; flow: Omit<Flow, 'expiresAt'> } | OidcRefused> {
  try {
    const p = providerOf(call);
    const config = await providerConfiguration(p, call.policy);
    const flow = { provider: p.id, verifier: client.randomPKCECodeVerifier(), state: client.randomState(), nonce: client.randomNonce(), returnTo };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: call.redirectUri,
      response_type: 'code',
      scope: p.scopes,
      code_challenge: await client.calculatePKCECodeChallenge(flow.verifier),
      code_challenge_method: 'S256',
      state: flow.state,
      nonce: flow.nonce,
    });
    return { url, flow };
  } catch (e) {
    const refused = refusalOf(e);
    log.warn('OIDC sign-in could not start', { provider: call.providerId.slice(0, 60), refusal: refused.refusal, error: refused.detail });
    return refused;
  }
}

export interface FinishInput {
  db: Db;
  /** The flow from the cookie, or why there is none. */
  flow: Flow | 'missing' | 'expired' | 'invalid';
  /** The query the provider sent the browser back with (code, state, iss; or error). */
  query: URLSearchParams;
  userAgent?: string;
  sessionHours: number;
}

/**
 * The way back: the state must be the one this browser left with; the code is exchanged with the PKCE
 * verifier; the ID token is checked (signature against the provider's keys, issuer, audience, expiry
 * and issued-at within the clock skew, nonce); then the account, its role and groups, and a session,
 * all in one transaction with their audit rows. Every refusal is audited and returned, never thrown.
 */
export async function finishOidcSignIn(call: OidcCall, input: FinishInput): Promise<(SignInResult & { returnTo: string }) | OidcRefused> {
  const { db } = input;
  const provider = call.providerId.slice(0, 60);
  const row = (outcome: 'success' | 'failure' | 'denied', actorLabel: string, detail: Record<string, unknown>, actorUserId?: string) => ({
    actorUserId,
    actorLabel,
    action: 'auth.signIn',
    clientAddress: call.clientAddress,
    outcome,
    detail: { method: 'oidc', provider, ...detail },
  });
  // Before the provider is asked anything: a callback with no flow of ours, or a state not ours, costs
  // its sender nothing, so these are counted and sampled rather than each written (see denial-audit.ts).
  const flow = input.flow;
  const anonymous = async (refusal: OidcRefused) => {
    await auditRefusal(db, { ...row('denied', `oidc:${provider}`, { reason: refusal.refusal }), reason: `OIDC_${refusal.refusal.toUpperCase().replace(/-/g, '_')}` });
    return refusal;
  };
  if (flow === 'expired') return anonymous(new OidcRefused('flow-expired', 'the sign-in was started more than 10 minutes ago'));
  if (flow === 'missing' || flow === 'invalid' || flow.state !== input.query.get('state'))
    return anonymous(new OidcRefused('state-mismatch', flow === 'missing' ? 'no sign-in was started in this browser' : 'the state does not match the one this browser left with'));

  let email = '';
  try {
    const p = providerOf(call);
    const config = await providerConfiguration(p, call.policy);
    const current = new URL(call.redirectUri);
    current.search = input.query.toString();
    const tokens = await client.authorizationCodeGrant(config, current, {
      pkceCodeVerifier: flow.verifier,
      expectedState: flow.state,
      expectedNonce: flow.nonce,
      idTokenExpected: true,
    });
    const idClaims = tokens.claims()!;
    let claims: Record<string, unknown> = idClaims;
    // Some providers put email and groups only in userinfo: asked there (for this subject) when missing.
    const groupsMissing = !(p.groupsClaim.split('.')[0]! in idClaims);
    if ((idClaims.email === undefined || groupsMissing) && config.serverMetadata().userinfo_endpoint && tokens.access_token)
      claims = { ...(await client.fetchUserInfo(config, tokens.access_token, idClaims.sub)), ...idClaims };
    const identity = identityOf(p, config.serverMetadata().issuer, claims);
    email = identity.email;
    const label = email;

    const signInOnce = () =>
      db.transaction(async (tx) => {
        const found = await oidcAccount(tx, p, identity);
        if ('disabledNow' in found) return found;
        const session = await openSession(tx, found.user, { ...input, clientAddress: call.clientAddress, audit: row('success', label, {}, found.user.id) });
        return { session, found };
      });
    // Two first sign-ins of one person at once (two tabs) both find no account and both create it: the
    // loser's insert hits the unique (issuer, subject) and, tried again, finds the winner's account.
    const outcome = await signInOnce().catch((e: unknown) => (isUniqueViolation(e) ? signInOnce() : Promise.reject(e)));
    if ('disabledNow' in outcome) {
      await announceCredentialChange({ userId: outcome.disabledNow.id });
      throw new OidcRefused('no-role', 'no role rule matched the claims and there is no default role: the account is disabled', outcome.disabledNow.id);
    }
    if (outcome.found.credentialsChanged) await announceCredentialChange({ userId: outcome.found.user.id });
    return { ...outcome.session, returnTo: flow.returnTo };
  } catch (e) {
    const refused = refusalOf(e);
    if (refused.refusal === 'failed') log.error('OIDC sign-in failed', { provider, error: refused.detail });
    else log.info('OIDC sign-in refused', { provider, refusal: refused.refusal, error: refused.detail });
    await writeAudit(db, row('failure', email || `oidc:${provider}`, { reason: refused.refusal, error: refused.detail.slice(0, 500) }, refused.userId));
    return refused;
  }
}

/** Who signed in, by the provider's rules: the email must be verified unless the provider is trusted not to say so. */
function identityOf(p: ProviderConfig, issuer: string, claims: Record<string, unknown>): OidcIdentity {
  const email = typeof claims.email === 'string' ? normalizeEmail(claims.email) : '';
  if (!email || email.length > 254 || !email.includes('@')) throw new OidcRefused('email-unverified', 'the provider sent no email address');
  if (p.requireVerifiedEmail && claims.email_verified !== true && claims.email_verified !== 'true')
    throw new OidcRefused('email-unverified', 'the provider does not say the email address is verified (email_verified)');
  const groups = [...new Set(claimValues(claims, p.groupsClaim))].slice(0, 500).map((g) => g.slice(0, 500));
  const name = typeof claims.name === 'string' ? claims.name : typeof claims.preferred_username === 'string' ? claims.preferred_username : '';
  return { issuer, subject: String(claims.sub), email, name: name.slice(0, 200), groups, role: roleForClaims(p, groups) };
}

function isUniqueViolation(e: unknown): boolean {
  for (let at: unknown = e, depth = 0; at && depth < 3; at = (at as { cause?: unknown }).cause, depth++) if ((at as { code?: unknown }).code === '23505') return true;
  return false;
}
