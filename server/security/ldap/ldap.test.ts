import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { Attribute, Change, Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnv } from '../../core/env';
import { queueDefinitions } from '../../core/queues';
import { DomainError } from '../../core/errors';
import { auditLog, groupLinks, groupMembers, groups, sessions, users } from '../../db/schema';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { freePort } from '../../core/net/free-port';
import { startLdapServer, TEST_DIRECTORY as T, type LdapServer } from '../../testing/ldap-server';
import { runMaintenance } from '../../../workers/maintenance';
import { getUserByToken } from '../sessions';
import { signIn } from '../sign-in';
import { memorySignInLimiter, type SignInLimiter } from '../sign-in-limits';
import { createUser, setUserDisabled } from '../users';
import { ldapSettingsFrom, parseRoleMap, roleForGroups, type LdapSettings } from './config';
import { escapeFilterValue, fillFilter } from './filter';
import { withDirectory } from './directory';

const ROLE_MAP = `cn=ml-admins,${T.groupBase}=admin; cn=ml-engineers,${T.groupBase}=engineer`;

function settings(url: string, extra: Record<string, string> = {}): LdapSettings {
  return ldapSettingsFrom(
    parseEnv({
      ENCLAVE_LDAP_URL: url,
      ENCLAVE_LDAP_STARTTLS: 'false',
      ENCLAVE_LDAP_BIND_DN: T.serviceDn,
      ENCLAVE_LDAP_BIND_PASSWORD: T.servicePassword,
      ENCLAVE_LDAP_USER_BASE: T.userBase,
      ENCLAVE_LDAP_GROUP_BASE: T.groupBase,
      ENCLAVE_LDAP_ROLE_MAP: ROLE_MAP,
      ENCLAVE_LDAP_DISABLED_FILTER: '(employeeType=disabled)',
      ENCLAVE_LDAP_CONNECT_TIMEOUT_MS: '2000',
      ENCLAVE_LDAP_TIMEOUT_MS: '5000',
      ...extra,
    }),
  )!;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return e instanceof DomainError ? `${e.status} ${e.code}: ${e.message}` : `unexpected ${String(e)}`;
  }
}

let t: TestDatabase;
let server: LdapServer;
let ldap: LdapSettings;
beforeAll(async () => {
  [t, server] = await Promise.all([createTestDatabase('ldap'), startLdapServer()]);
  ldap = settings(server.url);
}, 60_000);
afterAll(async () => {
  await server?.stop();
  await t?.drop();
});

const attempt = (login: string, password: string, opts: { limiter?: SignInLimiter; ldap?: LdapSettings | null } = {}) =>
  signIn(t.db, { email: login, password, clientAddress: '203.0.113.9', sessionHours: 1, limiter: opts.limiter ?? memorySignInLimiter(), ldap: opts.ldap === undefined ? ldap : opts.ldap });

async function auditFor(label: string) {
  return t.db.select().from(auditLog).where(eq(auditLog.actorLabel, label)).orderBy(auditLog.id);
}

async function asRoot<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ url: server.url });
  try {
    await c.bind(T.rootDn, T.rootPassword);
    return await fn(c);
  } finally {
    await c.unbind();
  }
}

describe('filters and settings', () => {
  it('escapes what was typed so it stays one value (RFC 4515)', () => {
    expect(escapeFilterValue('*)(uid=*')).toBe('\\2a\\29\\28uid=\\2a');
    expect(escapeFilterValue('a\\b\0')).toBe('a\\5cb\\00');
    expect(fillFilter('(|(uid={login})(mail={login}))', 'login', '*)(uid=*')).toBe('(|(uid=\\2a\\29\\28uid=\\2a)(mail=\\2a\\29\\28uid=\\2a))');
  });

  it('reads the role map (first match wins, DNs compared without case or spaces) and names bad settings', () => {
    const rules = parseRoleMap('CN=Admins, OU=Groups,DC=x=admin;cn=eng,dc=x=engineer');
    expect(rules).toEqual([
      { group: 'cn=admins,ou=groups,dc=x', role: 'admin' },
      { group: 'cn=eng,dc=x', role: 'engineer' },
    ]);
    expect(roleForGroups({ roleRules: rules, defaultRole: null }, ['cn=eng,dc=x', 'cn=admins,ou=groups,dc=x'])).toBe('admin');
    expect(roleForGroups({ roleRules: rules, defaultRole: null }, ['cn=other,dc=x'])).toBeNull();
    expect(roleForGroups({ roleRules: rules, defaultRole: 'viewer' }, [])).toBe('viewer');
    expect(() => parseRoleMap('cn=x,dc=y=root')).toThrow(/ENCLAVE_LDAP_ROLE_MAP: unknown role "root"/);
    expect(() => ldapSettingsFrom(parseEnv({ ENCLAVE_LDAP_URL: 'ldap://h' }))).toThrow(/ENCLAVE_LDAP_USER_BASE: required/);
    expect(() => parseEnv({ ENCLAVE_LDAP_URL: 'http://h' })).toThrow(/ENCLAVE_LDAP_URL: must be ldap/);
  });

  it('reads the service password from a file, and schedules the sync only where LDAP is configured', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'enclave-ldap-')), 'bind-password');
    writeFileSync(file, 'from-a-file\n', { mode: 0o600 });
    const base = { ENCLAVE_LDAP_URL: 'ldaps://ldap.example.org', ENCLAVE_LDAP_USER_BASE: T.userBase, ENCLAVE_LDAP_BIND_DN: T.serviceDn };
    expect(ldapSettingsFrom(parseEnv({ ...base, ENCLAVE_LDAP_BIND_PASSWORD_FILE: file }))!.bindPassword).toBe('from-a-file');
    expect(() => ldapSettingsFrom(parseEnv({ ...base, ENCLAVE_LDAP_BIND_PASSWORD_FILE: `${file}.missing` }))).toThrow(/ENCLAVE_LDAP_BIND_PASSWORD_FILE: cannot read/);
    expect(() => ldapSettingsFrom(parseEnv(base))).toThrow(/ENCLAVE_LDAP_BIND_DN: needs ENCLAVE_LDAP_BIND_PASSWORD/);
    const ids = (e: Record<string, string>) => queueDefinitions.maintenance.schedules!(parseEnv(e)).map((x) => x.id);
    expect(ids({})).not.toContain('ldap-sync');
    const withLdap = queueDefinitions.maintenance.schedules!(parseEnv({ ...base, ENCLAVE_LDAP_SYNC_MINUTES: '5' })).find((x) => x.id === 'ldap-sync');
    expect(withLdap).toEqual({ id: 'ldap-sync', repeat: { every: 300_000 }, payload: { task: 'ldap-sync' } });
  });
});

describe('LDAP sign-in against slapd', () => {
  it('signs alice in by uid and by mail: an engineer through a nested group, the password kept nowhere', async () => {
    const { user, token } = await attempt('alice', 'alice-secret');
    expect(user).toMatchObject({ email: 'alice@example.org', name: 'Alice Liddell', role: 'engineer' });
    expect((await getUserByToken(t.db, token))?.id).toBe(user.id);
    const [row] = await t.db.select().from(users).where(eq(users.id, user.id));
    expect(row).toMatchObject({ authSource: 'ldap', externalDn: `uid=alice,${T.userBase}`, passwordHash: '!ldap', disabled: false });
    expect([...row!.ldapGroups].sort()).toEqual([`cn=ml-engineers,${T.groupBase}`, `cn=ml-research,${T.groupBase}`]);
    // Signing in by mail finds the same account (by its DN), not a second one.
    expect((await attempt('Alice@Example.org', 'alice-secret')).user.id).toBe(user.id);
    expect(await t.db.select().from(users).where(eq(users.email, 'alice@example.org'))).toHaveLength(1);
    const all = await t.db.select().from(auditLog);
    expect(JSON.stringify(all)).not.toContain('alice-secret');
    expect((await auditFor('alice')).map((r) => [r.action, r.outcome, r.actorUserId])).toEqual([['auth.signIn', 'success', user.id]]);
    expect((await auditFor('ldap')).map((r) => [r.action, r.target, (r.detail as { created?: boolean }).created])).toEqual([['ldap.account', `user:${user.id}`, true]]);
  });

  it("gives bob admin from his group; walks groups with the cycle guard; refuses AD's in-chain rule on a server without it", async () => {
    expect((await attempt('bob', 'bob-secret')).user.role).toBe('admin');
    // The walk ends despite ml-research and ml-engineers containing each other; a depth of 1 sees direct groups only.
    const direct = await withDirectory(settings(server.url, { ENCLAVE_LDAP_NESTED_GROUPS: 'off' }), (d) => d.groupsOf(`uid=alice,${T.userBase}`));
    expect(direct).toEqual([`cn=ml-research,${T.groupBase}`]);
    // OpenLDAP is not AD: auto walks; AD's in-chain rule, forced, is refused by name (slapd would silently match nothing).
    const auto = await withDirectory(ldap, (d) => d.groupsOf(`uid=alice,${T.userBase}`));
    expect(auto.length).toBe(2);
    const inChain = await withDirectory(settings(server.url, { ENCLAVE_LDAP_NESTED_GROUPS: 'in-chain' }), (d) => d.groupsOf(`uid=alice,${T.userBase}`)).catch((e: Error) => e.message);
    expect(inChain).toMatch(/ENCLAVE_LDAP_NESTED_GROUPS=in-chain, but this server is not Active Directory/);
  });

  it('refuses a wrong password, an empty one, an unknown login and a user in no mapped group with one answer, each audited', async () => {
    const wrong = await codeOf(attempt('alice', 'not-her-password'));
    expect(wrong).toBe('401 UNAUTHORIZED: Wrong email or password');
    expect(await codeOf(attempt('alice', ''))).toBe(wrong);
    expect(await codeOf(attempt('nobody', 'whatever-password'))).toBe(wrong);
    expect(await codeOf(attempt('dave', 'dave-secret'))).toBe(wrong);
    const reasons = async (label: string) => (await auditFor(label)).filter((r) => r.outcome === 'failure').map((r) => (r.detail as { reason: string }).reason);
    expect(await reasons('alice')).toEqual(['ldap-wrong-password', 'ldap-wrong-password']);
    expect(await reasons('nobody')).toEqual(['ldap-unknown-login']);
    expect(await reasons('dave')).toEqual(['ldap-no-role']);
    expect(await t.db.select().from(users).where(eq(users.email, 'dave@example.org'))).toHaveLength(0);
  });

  it('keeps an injection attempt one value: *)(uid=* with a real password signs nobody in', async () => {
    for (const login of ['*)(uid=*', '*', 'alice)(|(uid=*', 'al*']) {
      expect(await codeOf(attempt(login, 'alice-secret'))).toBe('401 UNAUTHORIZED: Wrong email or password');
      expect((await auditFor(login)).map((r) => (r.detail as { reason: string }).reason)).toEqual(['ldap-unknown-login']);
    }
  });

  it('refuses carol, disabled in the directory, even with her password; one signed in before is disabled here when she tries again', async () => {
    expect(await codeOf(attempt('carol', 'carol-secret'))).toBe('401 UNAUTHORIZED: Wrong email or password');
    expect((await auditFor('carol')).map((r) => (r.detail as { reason: string }).reason)).toEqual(['ldap-disabled']);
    // Enabled in the directory she signs in; disabled again, her next try (right password) disables her account here at once.
    const employeeType = (operation: 'delete' | 'add') =>
      asRoot((c) => c.modify(`uid=carol,${T.userBase}`, new Change({ operation, modification: new Attribute({ type: 'employeeType', values: ['disabled'] }) })));
    await employeeType('delete');
    const { user, token } = await attempt('carol', 'carol-secret');
    expect(user.role).toBe('engineer');
    await employeeType('add');
    expect(await codeOf(attempt('carol', 'carol-secret'))).toBe('401 UNAUTHORIZED: Wrong email or password');
    expect(await getUserByToken(t.db, token)).toBeNull();
    expect((await t.db.select().from(users).where(eq(users.id, user.id)))[0]).toMatchObject({ disabled: true, disabledByDirectory: true });
    expect((await auditFor('ldap')).at(-1)).toMatchObject({ action: 'ldap.account', target: `user:${user.id}`, detail: { change: 'disabled', reason: 'disabled' } });
  });

  it('keeps local accounts local: a local password signs in, LDAP is not asked, and the directory cannot take over a local email', async () => {
    await createUser(t.db, { email: 'dave@example.org', password: 'local-dave-pass', role: 'viewer' });
    // dave's directory password does not open the local account; the local one does.
    expect(await codeOf(attempt('dave@example.org', 'dave-secret'))).toBe('401 UNAUTHORIZED: Wrong email or password');
    expect((await attempt('dave@example.org', 'local-dave-pass')).user.role).toBe('viewer');
    // Signing in by uid reaches the directory entry whose mail is the local account's: refused, not linked.
    expect(await codeOf(attempt('dave', 'dave-secret', { ldap: settings(server.url, { ENCLAVE_LDAP_DEFAULT_ROLE: 'user' }) }))).toMatch(/^401/);
    expect((await auditFor('dave')).map((r) => (r.detail as { reason: string }).reason).at(-1)).toBe('ldap-email-is-local-account');
    const [row] = await t.db.select().from(users).where(eq(users.email, 'dave@example.org'));
    expect(row).toMatchObject({ authSource: 'local', externalDn: null, role: 'viewer' });
  });

  it("refuses a directory account an admin disabled here, and the sync leaves that to the admin", async () => {
    const { user } = await attempt('alice', 'alice-secret');
    await setUserDisabled(t.db, user.id, true);
    expect(await codeOf(attempt('alice', 'alice-secret'))).toBe('401 UNAUTHORIZED: Wrong email or password');
    expect((await auditFor('alice')).map((r) => (r.detail as { reason?: string }).reason).at(-1)).toBe('disabled');
    await runMaintenance(t.db, { task: 'ldap-sync' }, { ldap });
    expect((await t.db.select().from(users).where(eq(users.id, user.id)))[0]).toMatchObject({ disabled: true, disabledByDirectory: false });
    await setUserDisabled(t.db, user.id, false);
  });

  it('applies the sign-in limits to LDAP attempts', async () => {
    const limiter = memorySignInLimiter({ accountFree: 2, addressFree: 100, baseDelayMs: 60_000, maxDelayMs: 60_000, forgetAfterMs: 60_000, globalPerMinute: 1000 });
    for (let i = 0; i < 3; i++) expect(await codeOf(attempt('bob', `guess-${i}`, { limiter }))).toMatch(/^401/);
    expect(await codeOf(attempt('bob', 'bob-secret', { limiter }))).toMatch(/^429 TOO_MANY_REQUESTS: Too many failed sign-ins for this account/);
  });

  it('says clearly when the directory cannot be reached, and local accounts still sign in', async () => {
    const down = settings(`ldap://127.0.0.1:${await freePort()}`);
    expect(await codeOf(attempt('alice', 'alice-secret', { ldap: down }))).toBe(
      '503 SERVICE_UNAVAILABLE: The directory (LDAP) cannot be reached: try again later. Local accounts can still sign in.',
    );
    const [row] = (await auditFor('alice')).slice(-1);
    expect(row!.detail).toMatchObject({ reason: 'ldap-unavailable', error: expect.stringMatching(/cannot be reached.*ECONNREFUSED/) });
    await createUser(t.db, { email: 'local@example.test', password: 'local-password', role: 'user' });
    expect((await attempt('local@example.test', 'local-password', { ldap: down })).user.role).toBe('user');
    // A wrong service password is the same clear error, not a wrong-password answer to the user.
    const badService = settings(server.url, { ENCLAVE_LDAP_BIND_PASSWORD: 'not-it' });
    expect(await codeOf(attempt('alice', 'alice-secret', { ldap: badService }))).toMatch(/^503 /);
    // Settings that could not be read (ldapSettings() keeps the reason) are the same 503, the reason in the audit row.
    const broken = { misconfigured: 'ENCLAVE_LDAP_CA_FILE: cannot read /nowhere/ca.pem' } as LdapSettings;
    expect(await codeOf(attempt('alice', 'alice-secret', { ldap: broken }))).toMatch(/^503 /);
    expect((await auditFor('alice')).at(-1)!.detail).toMatchObject({ error: 'LDAP is misconfigured: ENCLAVE_LDAP_CA_FILE: cannot read /nowhere/ca.pem' });
    expect((await attempt('local@example.test', 'local-password', { ldap: broken })).user.role).toBe('user');
  });
});

describe('LDAP sync', () => {
  it('disables a user removed from the directory (sessions ended at once), follows role changes and linked groups, and re-enables what it disabled', async () => {
    // Enclave groups linked to directory groups (DNs compared without case or spaces).
    const [admins, engineers] = await t.db.insert(groups).values([{ name: 'admins-team' }, { name: 'engineers-team' }]).returning();
    await t.db.insert(groupLinks).values([
      { groupId: admins!.id, source: 'ldap', external: `cn=ml-admins,${T.groupBase}` },
      { groupId: engineers!.id, source: 'ldap', external: `cn=ml-engineers,${T.groupBase}` },
    ]);
    const groupsOf = async (userId: string) =>
      (await t.db.select({ name: groups.name, source: groupMembers.source }).from(groupMembers).innerJoin(groups, eq(groups.id, groupMembers.groupId)).where(eq(groupMembers.userId, userId)))
        .map((g) => `${g.name}:${g.source}`)
        .sort();
    const alice = await attempt('alice', 'alice-secret');
    const bob = await attempt('bob', 'bob-secret');
    // Sign-in puts them in the linked groups: alice through her nested group.
    expect(await groupsOf(alice.user.id)).toEqual(['engineers-team:ldap']);
    expect(await groupsOf(bob.user.id)).toEqual(['admins-team:ldap']);
    // alice leaves the directory; bob moves from the admins to the engineers.
    await asRoot(async (c) => {
      await c.del(`uid=alice,${T.userBase}`);
      // groupOfNames needs a member: bob's place in the admins goes to the service account.
      await c.modify(`cn=ml-admins,${T.groupBase}`, new Change({ operation: 'replace', modification: new Attribute({ type: 'member', values: [T.serviceDn] }) }));
      await c.modify(`cn=ml-engineers,${T.groupBase}`, new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [`uid=bob,${T.userBase}`] }) }));
      await c.modify(`uid=bob,${T.userBase}`, new Change({ operation: 'replace', modification: new Attribute({ type: 'mail', values: ['robert@example.org'] }) }));
    });
    // The directory unreachable changes nothing.
    await expect(runMaintenance(t.db, { task: 'ldap-sync' }, { ldap: settings(`ldap://127.0.0.1:${await freePort()}`) })).rejects.toThrow(/cannot be reached/);
    expect((await t.db.select().from(users).where(eq(users.id, alice.user.id)))[0]!.disabled).toBe(false);

    const { ldap: result } = await runMaintenance(t.db, { task: 'ldap-sync' }, { ldap });
    expect(result!.disabled).toEqual([{ email: 'alice@example.org', reason: 'left' }]);
    expect(result!.roleChanged).toEqual([{ email: 'bob@example.org', from: 'admin', to: 'engineer' }]);
    const [a] = await t.db.select().from(users).where(eq(users.id, alice.user.id));
    expect(a).toMatchObject({ disabled: true, disabledByDirectory: true });
    expect(await t.db.select().from(sessions).where(eq(sessions.userId, alice.user.id))).toHaveLength(0);
    expect(await getUserByToken(t.db, alice.token)).toBeNull();
    expect(await getUserByToken(t.db, bob.token)).toMatchObject({ role: 'engineer', email: 'robert@example.org' });
    // bob's groups followed the directory, audited.
    expect(await groupsOf(bob.user.id)).toEqual(['engineers-team:ldap']);
    const moved = (await auditFor('ldap')).find((r) => r.action === 'groups.sync' && r.target === `user:${bob.user.id}` && (r.detail as { removed: string[] }).removed.length > 0);
    expect(moved?.detail).toMatchObject({ source: 'ldap', added: ['engineers-team'], removed: ['admins-team'] });
    const rows = (await auditFor('ldap-sync')).map((r) => [r.target, (r.detail as { change: string }).change]);
    expect(rows).toEqual([
      [`user:${alice.user.id}`, 'disabled'],
      [`user:${bob.user.id}`, 'updated'],
    ]);
    // A second run has nothing to do.
    expect((await runMaintenance(t.db, { task: 'ldap-sync' }, { ldap })).ldap).toMatchObject({ disabled: [], enabled: [], roleChanged: [] });

    // alice comes back: the sync enables the account it had disabled.
    await asRoot((c) =>
      c.add(`uid=alice,${T.userBase}`, { objectClass: 'inetOrgPerson', uid: 'alice', cn: 'Alice Liddell', sn: 'Liddell', mail: 'alice@example.org', userPassword: 'alice-secret' }),
    );
    expect((await runMaintenance(t.db, { task: 'ldap-sync' }, { ldap })).ldap!.enabled).toEqual(['alice@example.org']);
  });
});

describe('LDAP over TLS', () => {
  let tls: LdapServer;
  beforeAll(async () => {
    tls = await startLdapServer({ tls: true });
  }, 60_000);
  afterAll(async () => {
    await tls?.stop();
  });

  it('signs in over StartTLS and over ldaps:// with a CA made for the test, and refuses a server it cannot verify', async () => {
    const startTls = settings(tls.url, { ENCLAVE_LDAP_STARTTLS: 'true', ENCLAVE_LDAP_CA_FILE: tls.caFile! });
    expect((await attempt('bob', 'bob-secret', { ldap: startTls })).user.role).toBe('admin');
    const ldaps = settings(tls.ldapsUrl!, { ENCLAVE_LDAP_CA_FILE: tls.caFile! });
    expect((await attempt('bob', 'bob-secret', { ldap: ldaps })).user.role).toBe('admin');
    // Without the CA, the certificate is not trusted: the directory is unavailable, no password was sent.
    const untrusted = settings(tls.url, { ENCLAVE_LDAP_STARTTLS: 'true' });
    expect(await codeOf(attempt('bob', 'bob-secret', { ldap: untrusted }))).toMatch(/^503 /);
    const [row] = (await auditFor('bob')).slice(-1);
    expect((row!.detail as { error: string }).error).toMatch(/StartTLS.*(certificate|self.signed|issuer)/i);
  });
});
