import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { freePort } from '../core/net/free-port';

/**
 * A real OpenID provider (panva's oidc-provider, the certified implementation) on 127.0.0.1, for tests:
 * one confidential client, accounts with email, name and groups claims (a `groups` scope), its own
 * login pages (devInteractions: any password is taken, the login names the account) so a browser or a
 * fetch really signs in, and consent granted without asking (a first-party client).
 *
 * Tamper mode rewrites the ID token the token endpoint hands out, the way an attacker in the middle or
 * a broken provider would: a flipped signature byte, or a token re-signed with the provider's own key
 * (signingKey) but already expired, for another audience, or with another nonce.
 */
export type Tamper = 'signature' | 'expired' | 'audience' | 'nonce' | null;

export interface TestAccount {
  email: string;
  name: string;
  groups: string[];
  emailVerified?: boolean;
}

export interface TestOidcProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The key the provider signs ID tokens with (RS256), for tests that forge tokens. */
  signingKey: KeyObject;
  kid: string;
  /** Accounts by login; change one between sign-ins to change the claims. */
  accounts: Map<string, TestAccount>;
  tamper: Tamper;
  /** ID tokens the token endpoint handed out (after tampering), newest last. */
  issuedIdTokens: string[];
  stop(): Promise<void>;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** A compact JWS with the given payload under the provider's key. */
export function signJwt(payload: Record<string, unknown>, key: KeyObject, kid: string): string {
  const head = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }));
  const body = b64url(JSON.stringify(payload));
  return `${head}.${body}.${b64url(sign('sha256', Buffer.from(`${head}.${body}`), key))}`;
}

function tampered(idToken: string, mode: Exclude<Tamper, null>, key: KeyObject, kid: string): string {
  const [head, body, signature] = idToken.split('.') as [string, string, string];
  if (mode === 'signature') {
    const bytes = Buffer.from(signature, 'base64url');
    bytes[10] = bytes[10]! ^ 0x01;
    return `${head}.${body}.${bytes.toString('base64url')}`;
  }
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
  const now = Math.floor(Date.now() / 1000);
  // Expired an hour ago: far past any clock skew a relying party allows.
  if (mode === 'expired') Object.assign(claims, { iat: now - 7200, exp: now - 3600 });
  if (mode === 'audience') claims.aud = 'some-other-client';
  if (mode === 'nonce') claims.nonce = 'not-the-nonce-this-browser-sent';
  return signJwt(claims, key, kid);
}

export async function startOidcProvider(opts: { redirectUris: string[]; accounts?: Record<string, TestAccount>; port?: number; clientId?: string; clientSecret?: string }): Promise<TestOidcProvider> {
  const port = opts.port ?? (await freePort());
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = opts.clientId ?? 'enclave';
  const clientSecret = opts.clientSecret ?? randomBytes(24).toString('base64url');
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `test-${randomBytes(4).toString('hex')}`;
  const accounts = new Map(Object.entries(opts.accounts ?? {}));

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: opts.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [{ ...(privateKey.export({ format: 'jwk' }) as object), kid, alg: 'RS256', use: 'sig' }] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
    scopes: ['openid', 'email', 'profile', 'groups'],
    // Claims in the ID token itself (as most providers send them), not only from userinfo.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    // Given, so the provider does not print a notice for each default it falls back to.
    ttl: { AccessToken: 600, AuthorizationCode: 60, Grant: 3600, IdToken: 600, Interaction: 600, Session: 3600 },
    async findAccount(_ctx: unknown, id: string) {
      const account = accounts.get(id);
      if (!account) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: id, email: account.email, email_verified: account.emailVerified ?? true, name: account.name, groups: account.groups };
        },
      };
    },
    // A first-party client: every scope and claim asked for is granted without a consent page.
    async loadExistingGrant(ctx: any) {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid email profile groups');
      grant.addOIDCClaims(['email', 'email_verified', 'name', 'groups']);
      await grant.save();
      return grant;
    },
    // oidc-provider logs to the console for every error it renders; tests read the outcome instead.
    renderError(ctx: any, out: Record<string, string>) {
      ctx.type = 'json';
      ctx.body = out;
    },
  });

  const state: TestOidcProvider = {
    issuer,
    clientId,
    clientSecret,
    signingKey: privateKey,
    kid,
    accounts,
    tamper: null,
    issuedIdTokens: [],
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  provider.use(async (ctx: any, next: () => Promise<void>) => {
    await next();
    if (ctx.path === '/token' && ctx.status === 200 && ctx.body && typeof ctx.body.id_token === 'string') {
      if (state.tamper) ctx.body = { ...ctx.body, id_token: tampered(ctx.body.id_token, state.tamper, privateKey, kid) };
      state.issuedIdTokens.push(ctx.body.id_token);
    }
  });

  const server = http.createServer(provider.callback());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  if ((server.address() as AddressInfo).port !== port) throw new Error('the OIDC provider is not on the port asked for');
  return state;
}
