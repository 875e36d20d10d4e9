import type { ConnectionOptions } from 'node:tls';
import { Client, InvalidCredentialsError, NoSuchObjectError, SizeLimitExceededError, type Entry } from 'ldapts';
import { errorMessage, log } from '../../core/log';
import type { LdapSettings } from './config';
import { escapeFilterValue, fillFilter, normalizeDn } from './filter';

/** The directory could not be asked (down, TLS refused, the service account refused): nothing was decided. */
export class LdapUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LdapUnavailableError';
  }
}

/** AD announces itself in the root DSE's supportedCapabilities (LDAP_CAP_ACTIVE_DIRECTORY_OID). */
const AD_CAPABILITY = '1.2.840.113556.1.4.800';
/** AD's LDAP_MATCHING_RULE_IN_CHAIN: `member:<this>:=dn` matches every group dn is in, nested included. */
const IN_CHAIN = '1.2.840.113556.1.4.1941';

export interface DirectoryEntry {
  dn: string;
  email?: string;
  name: string;
}

function first(entry: Entry, attribute: string): string | undefined {
  const found = Object.entries(entry).find(([k]) => k.toLowerCase() === attribute.toLowerCase())?.[1];
  const v = Array.isArray(found) ? found[0] : found;
  return v === undefined ? undefined : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

function tlsOptions(s: LdapSettings): ConnectionOptions {
  return { ...(s.ca ? { ca: [s.ca] } : {}), minVersion: 'TLSv1.2', rejectUnauthorized: true };
}

function unavailable(e: unknown, what: string): LdapUnavailableError {
  if (e instanceof LdapUnavailableError) return e;
  return new LdapUnavailableError(`${what}: ${errorMessage(e) || (e as Error)?.name || 'unknown error'}`);
}

/** A connection, upgraded with StartTLS for ldap:// unless turned off; errors become LdapUnavailableError. */
async function open(s: LdapSettings): Promise<Client> {
  if (s.misconfigured) throw new LdapUnavailableError(`LDAP is misconfigured: ${s.misconfigured}`);
  const tls = tlsOptions(s);
  const ldaps = s.url.toLowerCase().startsWith('ldaps://');
  // ldapts speaks TLS from the start whenever it is given TLS options: only for ldaps://.
  const client = new Client({ url: s.url, timeout: s.timeoutMs, connectTimeout: s.connectTimeoutMs, ...(ldaps ? { tlsOptions: tls } : {}), strictDN: false });
  try {
    if (!ldaps && s.startTls) await client.startTLS(tls);
    return client;
  } catch (e) {
    await client.unbind().catch(() => {});
    throw unavailable(e, `LDAP server ${s.url}${s.startTls ? ' (StartTLS)' : ''} cannot be reached`);
  }
}

/** The directory as the service account sees it. */
export class Directory {
  private adCache?: boolean;
  constructor(
    private readonly s: LdapSettings,
    private readonly client: Client,
  ) {}

  private async search(base: string, filter: string, attributes: string[], scope: 'base' | 'sub' = 'sub', sizeLimit = 0): Promise<Entry[]> {
    try {
      const { searchEntries } = await this.client.search(base, { scope, filter, attributes, sizeLimit });
      return searchEntries;
    } catch (e) {
      if (e instanceof NoSuchObjectError) return [];
      if (e instanceof SizeLimitExceededError) throw e;
      throw unavailable(e, `LDAP search under ${base} failed`);
    }
  }

  /** The entry the login names (by the user filter), 'ambiguous' when it names several. */
  async findUser(login: string): Promise<DirectoryEntry | null | 'ambiguous'> {
    const found = await this.search(this.s.userBase, fillFilter(this.s.userFilter, 'login', login), [this.s.emailAttribute, this.s.nameAttribute], 'sub', 2).catch((e) => {
      // More than one match answers sizeLimitExceeded: the login is ambiguous, never "the first one".
      if (e instanceof SizeLimitExceededError) return 'ambiguous' as const;
      throw e;
    });
    if (found === 'ambiguous' || found.length > 1) return 'ambiguous';
    return found[0] ? this.toEntry(found[0]) : null;
  }

  private toEntry(e: Entry): DirectoryEntry {
    return { dn: e.dn, email: first(e, this.s.emailAttribute)?.trim().toLowerCase(), name: first(e, this.s.nameAttribute) ?? '' };
  }

  /** The entry at dn, when it still exists inside the user base; null when it left. */
  async readUser(dn: string): Promise<DirectoryEntry | null> {
    if (!normalizeDn(dn).endsWith(normalizeDn(this.s.userBase))) return null;
    const [e] = await this.search(dn, '(objectClass=*)', [this.s.emailAttribute, this.s.nameAttribute], 'base');
    return e ? this.toEntry(e) : null;
  }

  /** Refuses to go on when the user base itself is missing: a typo must not read as "everyone left". */
  async assertUserBase(): Promise<void> {
    const [e] = await this.search(this.s.userBase, '(objectClass=*)', ['1.1'], 'base');
    if (!e) throw new LdapUnavailableError(`ENCLAVE_LDAP_USER_BASE ${this.s.userBase} does not exist in the directory`);
  }

  /** Whether the entry matches ENCLAVE_LDAP_DISABLED_FILTER (never, without one). */
  async isDisabled(dn: string): Promise<boolean> {
    if (!this.s.disabledFilter) return false;
    return (await this.search(dn, this.s.disabledFilter, ['1.1'], 'base')).length > 0;
  }

  private async isActiveDirectory(): Promise<boolean> {
    if (this.adCache === undefined) {
      const [root] = await this.search('', '(objectClass=*)', ['supportedCapabilities'], 'base');
      const caps = root ? ([] as unknown[]).concat(root.supportedCapabilities ?? []).map(String) : [];
      this.adCache = caps.includes(AD_CAPABILITY);
    }
    return this.adCache;
  }

  /** Every group dn is in, nested groups included (the DNs as the directory writes them). */
  async groupsOf(dn: string): Promise<string[]> {
    const base = this.s.groupBase;
    if (!base) return [];
    let mode = this.s.nestedGroups;
    if (mode === 'auto') mode = (await this.isActiveDirectory()) ? 'in-chain' : 'walk';
    // Servers that do not know the rule match nothing, silently (slapd does): every user would lose their groups.
    else if (mode === 'in-chain' && !(await this.isActiveDirectory()))
      throw new LdapUnavailableError('ENCLAVE_LDAP_NESTED_GROUPS=in-chain, but this server is not Active Directory (no LDAP_MATCHING_RULE_IN_CHAIN): use walk or auto');
    if (mode === 'in-chain') return (await this.search(base, `(member:${IN_CHAIN}:=${escapeFilterValue(dn)})`, ['1.1'])).map((e) => e.dn);
    // Walk up the member links, one search per level, each group once (a cycle ends the walk), at most groupDepth levels.
    const seen = new Map<string, string>();
    let frontier = [dn];
    for (let depth = 0; frontier.length > 0; depth++) {
      if (depth >= (mode === 'off' ? 1 : this.s.groupDepth)) {
        if (mode !== 'off') log.warn('LDAP nested groups deeper than ENCLAVE_LDAP_GROUP_DEPTH: the rest ignored', { user: dn, depth });
        break;
      }
      const terms = frontier.map((m) => fillFilter(this.s.groupFilter, 'dn', m));
      const found = await this.search(base, terms.length === 1 ? terms[0]! : `(|${terms.join('')})`, ['1.1']);
      frontier = [];
      for (const g of found) {
        const key = normalizeDn(g.dn);
        if (seen.has(key) || key === normalizeDn(dn)) continue;
        seen.set(key, g.dn);
        frontier.push(g.dn);
      }
    }
    return [...seen.values()];
  }

  /** Binds as dn with the password on a connection of its own: true when the directory accepts it. */
  async checkPassword(dn: string, password: string): Promise<boolean> {
    // An empty password is an unauthenticated bind (RFC 4513 5.1.2), which servers accept for any DN.
    if (!password) return false;
    const client = await open(this.s);
    try {
      await client.bind(dn, password);
      return true;
    } catch (e) {
      if (e instanceof InvalidCredentialsError) return false;
      throw unavailable(e, 'LDAP bind as the user failed');
    } finally {
      await client.unbind().catch(() => {});
    }
  }
}

/** Connects, binds as the service account (anonymous without one), runs fn, and always disconnects. */
export async function withDirectory<T>(s: LdapSettings, fn: (d: Directory) => Promise<T>): Promise<T> {
  const client = await open(s);
  try {
    if (s.bindDn) {
      try {
        await client.bind(s.bindDn, s.bindPassword ?? '');
      } catch (e) {
        if (e instanceof InvalidCredentialsError) throw new LdapUnavailableError(`the LDAP service account ${s.bindDn} was refused (ENCLAVE_LDAP_BIND_PASSWORD)`);
        throw unavailable(e, `LDAP server ${s.url} cannot be reached`);
      }
    }
    return await fn(new Directory(s, client));
  } finally {
    await client.unbind().catch(() => {});
  }
}
