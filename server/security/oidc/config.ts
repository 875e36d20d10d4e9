import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, env, type Env } from '../../core/env';
import { log } from '../../core/log';
import { ROLES, type Role } from '../../db/schema';

const role = z.enum(ROLES);
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);
// Tokens and the client secret cross these URLs: plain http only to this machine (a local IdP, the tests' provider).
const url = z.url({ protocol: /^https?$/ }).refine((u) => u.startsWith('https:') || LOOPBACK_NAMES.has(new URL(u).hostname), 'must be https (http only for localhost)');

/** Endpoints given by hand, for a provider without discovery (or one whose discovery document is wrong). */
const staticMetadata = z.strictObject({
  authorization_endpoint: url,
  token_endpoint: url,
  jwks_uri: url,
  userinfo_endpoint: url.optional(),
  end_session_endpoint: url.optional(),
  id_token_signing_alg_values_supported: z.array(z.string()).optional(),
  token_endpoint_auth_methods_supported: z.array(z.string()).optional(),
});

const providerSchema = z
  .strictObject({
    /** Used in URLs (/api/auth/oidc/<id>/...), so the redirect URI registered at the provider names it. */
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'must be a lowercase slug (a-z, 0-9, -), at most 40 characters'),
    name: z.string().trim().min(1).max(60),
    issuer: url,
    clientId: z.string().min(1),
    clientSecret: z.string().min(1).optional(),
    clientSecretFile: z.string().min(1).optional(),
    scopes: z.string().regex(/(^|\s)openid(\s|$)/, 'must include openid').default('openid email profile'),
    metadata: staticMetadata.optional(),
    /** A claim of the ID token (or userinfo); dots walk into objects: realm_access.roles. */
    groupsClaim: z.string().regex(/^[^.\s]+(\.[^.\s]+)*$/, 'must be a claim name, dotted for nested claims').default('groups'),
    roleRules: z.array(z.strictObject({ value: z.string().min(1), role })).default([]),
    /** null: someone no rule matches is refused. */
    defaultRole: role.nullable().default(null),
    jit: z.boolean().default(true),
    /** Some providers never send email_verified (or send false for addresses they vouch for anyway). */
    requireVerifiedEmail: z.boolean().default(true),
    clockSkewSeconds: z.number().int().min(0).max(600).default(60),
  })
  .refine((p) => !(p.clientSecret && p.clientSecretFile), { message: 'set clientSecret or clientSecretFile, not both', path: ['clientSecret'] });

const fileSchema = z.array(providerSchema).superRefine((list, ctx) => {
  const seen = new Set<string>();
  list.forEach((p, i) => {
    if (seen.has(p.id)) ctx.addIssue({ code: 'custom', message: `id "${p.id}" is used twice`, path: [i, 'id'] });
    seen.add(p.id);
  });
});

export type ProviderConfig = Omit<z.infer<typeof providerSchema>, 'clientSecretFile'>;

export interface OidcSettings {
  providers: ProviderConfig[];
  /** Set when the file could not be read or is invalid: every OIDC sign-in fails with it. */
  misconfigured?: string;
}

/** "file: provider "corp" (#1): roleRules.0.role: ..." — the file, the provider and the field, as the admin wrote them. */
function describe(file: string, raw: unknown, issue: z.core.$ZodIssue): string {
  const [index, ...field] = issue.path;
  if (typeof index !== 'number') return `${file}: ${issue.message}`;
  const id = Array.isArray(raw) && raw[index] && typeof raw[index] === 'object' ? (raw[index] as { id?: unknown }).id : undefined;
  const who = typeof id === 'string' ? `provider "${id}" (#${index + 1})` : `provider #${index + 1}`;
  return `${file}: ${who}${field.length ? `: ${field.join('.')}` : ''}: ${issue.message}`;
}

/** The providers in ENCLAVE_OIDC_PROVIDERS_FILE (none when unset); throws a ConfigError naming the file, the provider and the field. */
export function oidcSettingsFrom(e: Pick<Env, 'ENCLAVE_OIDC_PROVIDERS_FILE'>): OidcSettings {
  const file = e.ENCLAVE_OIDC_PROVIDERS_FILE;
  if (!file) return { providers: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`ENCLAVE_OIDC_PROVIDERS_FILE: cannot read ${file} as JSON: ${(err as Error).message}`);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`ENCLAVE_OIDC_PROVIDERS_FILE: ${parsed.error.issues.map((i) => describe(file, raw, i)).join('; ')}`);
  return {
    providers: parsed.data.map(({ clientSecretFile, ...p }) => {
      if (!clientSecretFile) return p;
      try {
        return { ...p, clientSecret: readFileSync(clientSecretFile, 'utf8').replace(/\r?\n$/, '') };
      } catch (err) {
        throw new ConfigError(`ENCLAVE_OIDC_PROVIDERS_FILE: ${file}: provider "${p.id}": clientSecretFile: cannot read ${clientSecretFile}: ${(err as Error).message}`);
      }
    }),
  };
}

// Per configuration object, so a test's API server with a providers file of its own reads that one.
const cached = new WeakMap<object, OidcSettings>();
/**
 * The OIDC settings of this configuration (the process's by default), read on first use. A file that
 * cannot be read is logged and kept as `misconfigured`: OIDC sign-ins then fail saying why, while
 * password sign-in still works.
 */
export function oidcSettings(e: Pick<Env, 'ENCLAVE_OIDC_PROVIDERS_FILE'> = env()): OidcSettings {
  let settings = cached.get(e);
  if (!settings) {
    try {
      settings = oidcSettingsFrom(e);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      log.error('OIDC sign-in is misconfigured', { error: err.message });
      settings = { providers: [], misconfigured: err.message };
    }
    cached.set(e, settings);
  }
  return settings;
}

/** The value at a dotted path of the claims (realm_access.roles), as a list of strings: a string is one value, anything else none. */
export function claimValues(claims: Record<string, unknown>, path: string): string[] {
  let at: unknown = claims;
  for (const key of path.split('.')) {
    if (!at || typeof at !== 'object' || Array.isArray(at)) return [];
    at = (at as Record<string, unknown>)[key];
  }
  if (typeof at === 'string') return [at];
  return Array.isArray(at) ? at.filter((v): v is string => typeof v === 'string') : [];
}

/** The role for these claim values: the first rule naming one of them, else the default (null: refused). */
export function roleForClaims(p: Pick<ProviderConfig, 'roleRules' | 'defaultRole'>, values: readonly string[]): Role | null {
  const mine = new Set(values);
  return p.roleRules.find((r) => mine.has(r.value))?.role ?? p.defaultRole;
}
