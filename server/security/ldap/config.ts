import { readFileSync } from 'node:fs';
import { ConfigError, env, type Env } from '../../core/env';
import { log } from '../../core/log';
import { ROLES, type Role } from '../../db/schema';
import { normalizeDn } from './filter';

export type NestedGroups = 'auto' | 'in-chain' | 'walk' | 'off';

/** LDAP as configured (ENCLAVE_LDAP_*), files read once: the CA and the service account's password. */
export interface LdapSettings {
  url: string;
  startTls: boolean;
  ca?: string;
  bindDn?: string;
  bindPassword?: string;
  userBase: string;
  userFilter: string;
  emailAttribute: string;
  nameAttribute: string;
  groupBase?: string;
  groupFilter: string;
  nestedGroups: NestedGroups;
  groupDepth: number;
  /** First match wins; groups normalized (normalizeDn). */
  roleRules: { group: string; role: Role }[];
  /** Null: a user no rule matched is refused. */
  defaultRole: Role | null;
  disabledFilter?: string;
  timeoutMs: number;
  connectTimeoutMs: number;
  /** Set when ENCLAVE_LDAP_* could not be read (a missing CA file...): every LDAP use fails with it. */
  misconfigured?: string;
}

/** "groupDN=role;groupDN=role": the role is after the last `=` (a DN has `=` of its own). */
export function parseRoleMap(text: string | undefined): { group: string; role: Role }[] {
  if (!text) return [];
  return text
    .split(';')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((pair) => {
      const at = pair.lastIndexOf('=');
      const group = pair.slice(0, at).trim();
      const role = pair.slice(at + 1).trim();
      if (!group.includes('=')) throw new ConfigError(`ENCLAVE_LDAP_ROLE_MAP: "${group}" is not a group DN`);
      if (!(ROLES as readonly string[]).includes(role)) throw new ConfigError(`ENCLAVE_LDAP_ROLE_MAP: unknown role "${role}": use one of ${ROLES.join(', ')}`);
      return { group: normalizeDn(group), role: role as Role };
    });
}

function readSetting(variable: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${variable}: cannot read ${file}: ${(e as Error).message}`);
  }
}

/** The settings, or null when ENCLAVE_LDAP_URL is unset (local accounts only). */
export function ldapSettingsFrom(e: Env): LdapSettings | null {
  if (!e.ENCLAVE_LDAP_URL) return null;
  if (!e.ENCLAVE_LDAP_USER_BASE) throw new ConfigError('ENCLAVE_LDAP_USER_BASE: required with ENCLAVE_LDAP_URL');
  if (e.ENCLAVE_LDAP_BIND_PASSWORD && e.ENCLAVE_LDAP_BIND_PASSWORD_FILE)
    throw new ConfigError('ENCLAVE_LDAP_BIND_PASSWORD and ENCLAVE_LDAP_BIND_PASSWORD_FILE: set one, not both');
  const bindPassword = e.ENCLAVE_LDAP_BIND_PASSWORD_FILE
    ? readSetting('ENCLAVE_LDAP_BIND_PASSWORD_FILE', e.ENCLAVE_LDAP_BIND_PASSWORD_FILE).replace(/\r?\n$/, '')
    : e.ENCLAVE_LDAP_BIND_PASSWORD;
  if (e.ENCLAVE_LDAP_BIND_DN && !bindPassword) throw new ConfigError('ENCLAVE_LDAP_BIND_DN: needs ENCLAVE_LDAP_BIND_PASSWORD or _FILE');
  return {
    url: e.ENCLAVE_LDAP_URL.replace(/\/$/, ''),
    startTls: e.ENCLAVE_LDAP_STARTTLS,
    ca: e.ENCLAVE_LDAP_CA_FILE ? readSetting('ENCLAVE_LDAP_CA_FILE', e.ENCLAVE_LDAP_CA_FILE) : undefined,
    bindDn: e.ENCLAVE_LDAP_BIND_DN,
    bindPassword,
    userBase: e.ENCLAVE_LDAP_USER_BASE,
    userFilter: e.ENCLAVE_LDAP_USER_FILTER,
    emailAttribute: e.ENCLAVE_LDAP_EMAIL_ATTRIBUTE,
    nameAttribute: e.ENCLAVE_LDAP_NAME_ATTRIBUTE,
    groupBase: e.ENCLAVE_LDAP_GROUP_BASE,
    groupFilter: e.ENCLAVE_LDAP_GROUP_FILTER,
    nestedGroups: e.ENCLAVE_LDAP_NESTED_GROUPS,
    groupDepth: e.ENCLAVE_LDAP_GROUP_DEPTH,
    roleRules: parseRoleMap(e.ENCLAVE_LDAP_ROLE_MAP),
    defaultRole: e.ENCLAVE_LDAP_DEFAULT_ROLE === 'none' ? null : e.ENCLAVE_LDAP_DEFAULT_ROLE,
    disabledFilter: e.ENCLAVE_LDAP_DISABLED_FILTER,
    timeoutMs: e.ENCLAVE_LDAP_TIMEOUT_MS,
    connectTimeoutMs: e.ENCLAVE_LDAP_CONNECT_TIMEOUT_MS,
  };
}

let cached: { settings: LdapSettings | null } | undefined;
/**
 * The process's LDAP settings (null: not configured), read on first use. Settings that cannot be read
 * are logged and kept as `misconfigured`: LDAP sign-ins and syncs then fail saying why, while local
 * accounts still sign in.
 */
export function ldapSettings(): LdapSettings | null {
  if (!cached) {
    try {
      cached = { settings: ldapSettingsFrom(env()) };
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      log.error('LDAP sign-in is misconfigured', { error: e.message });
      cached = { settings: { misconfigured: e.message } as LdapSettings };
    }
  }
  return cached.settings;
}

/** The role of a user in these groups: the first rule naming one of them, else the default (null: refused). */
export function roleForGroups(s: Pick<LdapSettings, 'roleRules' | 'defaultRole'>, groups: string[]): Role | null {
  const mine = new Set(groups.map(normalizeDn));
  return s.roleRules.find((r) => mine.has(r.group))?.role ?? s.defaultRole;
}
