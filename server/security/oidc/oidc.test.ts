import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiTestServer } from '../../api/testing/api-test-server';
import { closeRedis } from '../../core/redis';
import { parseEnv } from '../../core/env';
import { auditLog, groupLinks, groupMembers, groups, users } from '../../db/schema';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../../testing/database';
import { oidcDance, CookieJar } from '../../testing/oidc-dance';
import { startOidcProvider, type TestOidcProvider } from '../../testing/oidc-provider';
import { getUserByToken } from '../sessions';
import { signIn } from '../sign-in';
import { memorySignInLimiter } from '../sign-in-limits';
import { createUser, setUserDisabled } from '../users';
import { oidcSettingsFrom } from './config';
import { FLOW_COOKIE, openFlow, safeReturnPath, sealFlow } from './flow-cookie';
import { freePort } from '../../core/net/free-port';

process.env.REDIS_PREFIX = testRedisPrefix('oidc');

let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let idp: TestOidcProvider;
let dir: string;
const logged: string[] = [];
const realWrite = process.stderr.write.bind(process.stderr);

const ROLE_RULES = [
  { value: 'ml-admins', role: 'admin' },
  { value: 'ml-engineers', role: 'engineer' },
  { value: 'staff', role: 'user' },
];

beforeAll(async () => {
  // Everything the process logs, to show that no secret, code or token is in it.
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    logged.push(String(chunk));
    return (realWrite as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-oidc-'));
  const providersFile = path.join(dir, 'providers.json');
  t = await createTestDatabase('oidc');
  // The file is read on first use, so it can be written once the provider (which needs our URL) is up.
  api = await startApiTestServer({ db: t.db, masterKey: randomBytes(32), env: { ENCLAVE_OIDC_PROVIDERS_FILE: providersFile, ENCLAVE_OUTBOUND_ALLOW: '127.0.0.1' } });
  idp = await startOidcProvider({
    redirectUris: ['corp', 'strict', 'static'].map((id) => `${api.base}/api/auth/oidc/${id}/callback`),
    accounts: {
      alice: { email: 'Alice@Example.test', name: 'Alice', groups: ['ml-engineers', 'team-vision'] },
      carol: { email: 'carol@example.test', name: 'Carol', groups: ['staff'] },
      dave: { email: 'dave@example.test', name: 'Dave', groups: ['contractors'] },
      erin: { email: 'erin@example.test', name: 'Erin', groups: ['staff'] },
      local: { email: 'local@example.test', name: 'Local', groups: ['ml-admins'] },
      unverified: { email: 'unverified@example.test', name: 'U', groups: ['staff'], emailVerified: false },
      stranger: { email: 'stranger@example.test', name: 'S', groups: ['staff'] },
      tess: { email: 'tess@example.test', name: 'Tess', groups: ['staff'] },
      twin: { email: 'twin@example.test', name: 'Twin', groups: ['staff'] },
    },
  });
  const closedPort = await freePort();
  const secretFile = path.join(dir, 'secret');
  fs.writeFileSync(secretFile, `${idp.clientSecret}\n`, { mode: 0o600 });
  const common = { issuer: idp.issuer, clientId: idp.clientId, scopes: 'openid email profile groups', roleRules: ROLE_RULES, defaultRole: null };
  fs.writeFileSync(
    providersFile,
    JSON.stringify([
      { id: 'corp', name: 'Corp SSO', clientSecret: idp.clientSecret, ...common },
      { id: 'strict', name: 'Strict', clientSecret: idp.clientSecret, jit: false, ...common },
      // No discovery: the endpoints as an admin would copy them from the provider's documentation.
      // Nothing listens there: the provider is down.
      { id: 'down', name: 'Down', clientSecret: 'x', ...common, issuer: `http://127.0.0.1:${closedPort}` },
      { id: 'static', name: 'Static', clientSecretFile: secretFile, ...common, metadata: { authorization_endpoint: `${idp.issuer}/auth`, token_endpoint: `${idp.issuer}/token`, jwks_uri: `${idp.issuer}/jwks` } },
    ]),
  );
}, 60_000);

afterAll(async () => {
  process.stderr.write = realWrite;
  await idp?.stop();
  await api?.close();
  await t?.drop();
  await closeRedis();
  fs.rmSync(dir, { recursive: true, force: true });
});

const start = (provider: string, next?: string) => `${api.base}/api/auth/oidc/${provider}/start${next ? `?next=${encodeURIComponent(next)}` : ''}`;

async function sessionOf(jar: CookieJar) {
  return getUserByToken(t.db, jar.get(api.base, 'enclave_session'));
}

async function account(email: string) {
  const [row] = await t.db.select().from(users).where(eq(users.email, email));
  return row;
}

async function signInRows(label: string) {
  return t.db
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.action, 'auth.signIn'), eq(auditLog.actorLabel, label)))
    .orderBy(auditLog.id);
}

describe('OIDC sign-in against a real provider', () => {
  let vision: string;

  it('creates an account just in time, with the role from the group claim and the linked group, and signs it in', async () => {
    const [group] = await t.db.insert(groups).values({ name: 'vision' }).returning();
    vision = group!.id;
    await t.db.insert(groupLinks).values({ groupId: vision, source: 'oidc', external: 'team-vision' });

    const done = await oidcDance(start('corp', '/models?tab=all'), 'alice');
    expect(done.status).toBe(302);
    expect(done.location).toBe('/models?tab=all');
    const session = await sessionOf(done.jar);
    expect(session).toMatchObject({ email: 'alice@example.test', name: 'Alice', role: 'engineer' });
    const row = (await account('alice@example.test'))!;
    expect(row).toMatchObject({ authSource: 'oidc', oidcIssuer: idp.issuer, oidcSubject: 'alice', oidcGroups: ['ml-engineers', 'team-vision'], passwordHash: '!oidc' });
    const members = await t.db.select().from(groupMembers).where(eq(groupMembers.userId, row.id));
    expect(members).toMatchObject([{ groupId: vision, source: 'oidc' }]);
    // The flow cookie is single-use: the callback cleared it.
    expect(done.jar.get(api.base, FLOW_COOKIE)).toBeUndefined();
    const [audit] = await signInRows('alice@example.test');
    expect(audit).toMatchObject({ outcome: 'success', actorUserId: row.id, detail: { method: 'oidc', provider: 'corp' } });
    console.log(`OIDC sign-in (start → provider login → callback → session), measured once: ${done.ms.toFixed(0)} ms`);
  });

  it('follows the claims at the next sign-in: a new role, groups left', async () => {
    idp.accounts.get('alice')!.groups = ['ml-admins'];
    const done = await oidcDance(start('corp'), 'alice');
    expect(done.location).toBe('/');
    expect(await sessionOf(done.jar)).toMatchObject({ role: 'admin' });
    const row = (await account('alice@example.test'))!;
    expect(row.oidcGroups).toEqual(['ml-admins']);
    expect(await t.db.select().from(groupMembers).where(eq(groupMembers.userId, row.id))).toEqual([]);
    const changes = await t.db.select().from(auditLog).where(and(eq(auditLog.action, 'oidc.account'), eq(auditLog.target, `user:${row.id}`)));
    expect(changes.at(-1)!.detail).toMatchObject({ role: { from: 'engineer', to: 'admin' } });
  });

  it('two first sign-ins of one person at once make one account, and both are signed in', async () => {
    const both = await Promise.all([oidcDance(start('corp'), 'twin'), oidcDance(start('corp'), 'twin')]);
    expect(both.map((d) => d.location)).toEqual(['/', '/']);
    expect(await t.db.select().from(users).where(eq(users.email, 'twin@example.test'))).toHaveLength(1);
    for (const d of both) expect(await sessionOf(d.jar)).toMatchObject({ email: 'twin@example.test' });
  });

  it('signs in with static endpoints (no discovery) and a client secret from a file', async () => {
    const done = await oidcDance(start('static'), 'erin');
    expect(done.location).toBe('/');
    expect(await sessionOf(done.jar)).toMatchObject({ email: 'erin@example.test', role: 'user' });
  });

  for (const [mode, refusal, why] of [
    ['signature', 'token-invalid', 'JWT signature verification failed'],
    ['expired', 'token-expired', '"exp" (expiration time)'],
    ['audience', 'token-invalid', '"aud" (audience)'],
    ['nonce', 'token-invalid', '"nonce" claim value'],
  ] as const) {
    it(`refuses an ID token with a ${mode === 'signature' ? 'flipped signature byte' : mode === 'expired' ? 'past expiry (re-signed)' : `wrong ${mode} (re-signed)`}`, async () => {
      idp.tamper = mode;
      try {
        const done = await oidcDance(start('corp'), 'tess');
        expect(done).toMatchObject({ status: 302, location: `/login?error=${refusal}` });
        expect(done.jar.get(api.base, 'enclave_session')).toBeUndefined();
      } finally {
        idp.tamper = null;
      }
      expect(await account('tess@example.test')).toBeUndefined();
      const last = (await signInRows('oidc:corp')).at(-1)!;
      expect(last).toMatchObject({ outcome: 'failure', detail: { method: 'oidc', provider: 'corp', reason: refusal } });
      expect((last.detail as { error: string }).error).toContain(why);
    });
  }

  it('refuses a callback whose state is not the one this browser left with, and one with no flow at all', async () => {
    const forged = await oidcDance(start('corp'), 'tess', {
      beforeCallback: (url) => {
        url.searchParams.set('state', 'forged-state');
        return url;
      },
    });
    expect(forged.location).toBe('/login?error=state-mismatch');
    const bare = await fetch(`${api.base}/api/auth/oidc/corp/callback?code=abc&state=xyz`, { redirect: 'manual' });
    expect(bare.status).toBe(302);
    expect(bare.headers.get('location')).toBe('/login?error=state-mismatch');
    expect(await account('tess@example.test')).toBeUndefined();
  });

  it('refuses a disabled account, and a role the claims no longer give disables the account', async () => {
    const first = await oidcDance(start('corp'), 'carol');
    expect(first.location).toBe('/');
    const carol = (await account('carol@example.test'))!;
    await setUserDisabled(t.db, carol.id, true);
    const again = await oidcDance(start('corp'), 'carol');
    expect(again.location).toBe('/login?error=disabled');
    expect((await signInRows('carol@example.test')).at(-1)).toMatchObject({ outcome: 'failure', actorUserId: carol.id, detail: { reason: 'disabled' } });

    // Erin's groups no longer map to a role: her session ends and she is refused.
    const erin = (await account('erin@example.test'))!;
    idp.accounts.get('erin')!.groups = ['contractors'];
    const refused = await oidcDance(start('corp'), 'erin');
    expect(refused.location).toBe('/login?error=no-role');
    expect((await account('erin@example.test'))!.disabled).toBe(true);
    // Given a role again, the account comes back (it was disabled by the claims, not by an admin).
    idp.accounts.get('erin')!.groups = ['staff'];
    const back = await oidcDance(start('corp'), 'erin');
    expect(back.location).toBe('/');
    expect(await account('erin@example.test')).toMatchObject({ id: erin.id, disabled: false });
  });

  it('refuses someone no rule gives a role (no default role), and creates nothing', async () => {
    const done = await oidcDance(start('corp'), 'dave');
    expect(done.location).toBe('/login?error=no-role');
    expect(await account('dave@example.test')).toBeUndefined();
  });

  it('with just-in-time accounts off, refuses an identity no account is linked to, and lets a linked one in', async () => {
    const unknown = await oidcDance(start('strict'), 'stranger');
    expect(unknown.location).toBe('/login?error=no-account');
    expect(await account('stranger@example.test')).toBeUndefined();
    const linked = await oidcDance(start('strict'), 'alice');
    expect(linked.location).toBe('/');
  });

  it('never takes over a local account with the same email', async () => {
    const local = await createUser(t.db, { email: 'local@example.test', password: 'a-local-password-1', role: 'user' });
    const done = await oidcDance(start('corp'), 'local');
    expect(done.location).toBe('/login?error=account-exists');
    expect(await account('local@example.test')).toMatchObject({ id: local.id, authSource: 'local', role: 'user', oidcSubject: null });
  });

  it('refuses an email the provider does not say is verified', async () => {
    const done = await oidcDance(start('corp'), 'unverified');
    expect(done.location).toBe('/login?error=email-unverified');
  });

  it('sends an unknown provider, and an unreachable one, back to the login page saying so', async () => {
    const unknown = await fetch(start('nope'), { redirect: 'manual' });
    expect(unknown.headers.get('location')).toBe('/login?error=misconfigured');
    const down = await fetch(start('down'), { redirect: 'manual' });
    expect(down.status).toBe(302);
    expect(down.headers.get('location')).toBe('/login?error=unreachable');
    const weird = await fetch(`${api.base}/api/auth/oidc/%0d%0a/callback?state=x`, { redirect: 'manual' });
    expect(weird.status).toBe(302);
    expect(weird.headers.get('location')).toBe('/login?error=state-mismatch');
  });

  it('keeps the client secret, codes and tokens out of the log and the audit rows', async () => {
    const rows = JSON.stringify(await t.db.select().from(auditLog));
    const log = logged.join('');
    for (const text of [rows, log]) {
      expect(text).not.toContain(idp.clientSecret);
      for (const token of idp.issuedIdTokens) expect(text).not.toContain(token.split('.')[2]);
      expect(text).not.toMatch(/[?&]code=/);
    }
    expect(log).toContain('OIDC sign-in refused');
  });
});

describe('ENCLAVE_PASSWORD_SIGNIN', () => {
  const attempt = (email: string, password: string, passwordSignIn: 'on' | 'off' | 'admins') =>
    signIn(t.db, { email, password, clientAddress: '203.0.113.7', sessionHours: 1, limiter: memorySignInLimiter(), ldap: null, passwordSignIn }).then(
      (r) => `ok ${r.user.role}`,
      (e: Error & { code?: string }) => `${e.code}: ${e.message}`,
    );

  it('off refuses every password, admins lets only admins use one, on lets everyone', async () => {
    await createUser(t.db, { email: 'root@example.test', password: 'break-glass-password-9', role: 'admin' });
    await createUser(t.db, { email: 'plain@example.test', password: 'plain-user-password-9', role: 'user' });
    expect(await attempt('root@example.test', 'break-glass-password-9', 'off')).toBe('FORBIDDEN: Password sign-in is turned off: use single sign-on');
    expect(await attempt('root@example.test', 'break-glass-password-9', 'admins')).toBe('ok admin');
    expect(await attempt('plain@example.test', 'plain-user-password-9', 'admins')).toBe('FORBIDDEN: Password sign-in is for administrators only: use single sign-on');
    // A wrong password is told as always: the admins-only answer comes only after the right one.
    expect(await attempt('plain@example.test', 'wrong-password-0000', 'admins')).toBe('UNAUTHORIZED: Wrong email or password');
    expect(await attempt('plain@example.test', 'plain-user-password-9', 'on')).toBe('ok user');
    // An OIDC account has no password to use.
    expect(await attempt('alice@example.test', '!oidc', 'on')).toBe('UNAUTHORIZED: Wrong email or password');
  });

  it('the login page learns the providers (id and name only) and the password policy', async () => {
    const { data } = await api.trpc('query', 'auth.signInOptions', undefined);
    expect(data).toEqual({
      providers: [
        { id: 'corp', name: 'Corp SSO' },
        { id: 'strict', name: 'Strict' },
        { id: 'down', name: 'Down' },
        { id: 'static', name: 'Static' },
      ],
      password: 'on',
    });
  });
});

describe('the flow cookie', () => {
  const key = randomBytes(32);
  const flow = { provider: 'corp', verifier: 'v', state: 's', nonce: 'n', returnTo: '/' };
  const req = (value: string) => ({ headers: { cookie: `${FLOW_COOKIE}=${value}` } });

  it('opens only for the provider it was made for, within 10 minutes, unaltered, under the same master key', () => {
    const sealed = sealFlow(key, flow);
    expect(openFlow(key, req(sealed), 'corp')).toMatchObject(flow);
    expect(openFlow(key, req(sealed), 'other')).toBe('invalid');
    expect(openFlow(key, req(sealed), 'corp', Date.now() + 11 * 60_000)).toBe('expired');
    const bytes = Buffer.from(sealed, 'base64url');
    bytes[bytes.length - 1]! ^= 1;
    expect(openFlow(key, req(bytes.toString('base64url')), 'corp')).toBe('invalid');
    expect(openFlow(randomBytes(32), req(sealed), 'corp')).toBe('invalid');
    expect(openFlow(key, { headers: {} }, 'corp')).toBe('missing');
  });

  it('returns only to a path of this site', () => {
    expect(safeReturnPath('/c/123?x=1')).toBe('/c/123?x=1');
    for (const bad of ['//evil.example/', '/\\evil.example', 'https://evil.example/', '/login?next=/', '/a\nb', null, '']) expect(safeReturnPath(bad)).toBe('/');
  });
});

describe('the providers file', () => {
  const read = (content: unknown) => {
    const file = path.join(dir, `p-${randomBytes(3).toString('hex')}.json`);
    fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
    try {
      return oidcSettingsFrom(parseEnv({ ENCLAVE_OIDC_PROVIDERS_FILE: file }));
    } catch (e) {
      return (e as Error).message.replace(file, 'FILE');
    }
  };
  const ok = { id: 'corp', name: 'Corp', issuer: 'https://idp.example.org', clientId: 'enclave' };

  it('applies the defaults', () => {
    expect(read([ok])).toEqual({
      providers: [{ ...ok, scopes: 'openid email profile', groupsClaim: 'groups', roleRules: [], defaultRole: null, jit: true, requireVerifiedEmail: true, clockSkewSeconds: 60 }],
    });
  });

  it('names the file, the provider and the field of a mistake', () => {
    expect(read([ok, { ...ok, id: 'b', roleRules: [{ value: 'x', role: 'root' }] }])).toMatch(/^ENCLAVE_OIDC_PROVIDERS_FILE: FILE: provider "b" \(#2\): roleRules\.0\.role: /);
    expect(read([{ ...ok, clientSecret: 'a', clientSecretFile: '/x' }])).toMatch(/provider "corp" \(#1\): clientSecret: set clientSecret or clientSecretFile, not both/);
    expect(read([{ ...ok, issuer: 'http://idp.example.org' }])).toMatch(/provider "corp" \(#1\): issuer: must be https/);
    expect(read([{ ...ok, tenant: 'x' }])).toMatch(/provider "corp" \(#1\): .*tenant/);
    expect(read([ok, ok])).toMatch(/provider "corp" \(#2\): id: id "corp" is used twice/);
    expect(read('{ not json')).toMatch(/^ENCLAVE_OIDC_PROVIDERS_FILE: cannot read FILE as JSON/);
  });
});
