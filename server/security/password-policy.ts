import fs from 'node:fs';
import path from 'node:path';
import { DomainError } from '../core/errors';
import { MAX_PASSWORD_LENGTH } from './passwords';

export interface PasswordPolicy {
  minLength: number;
  /** How many earlier passwords a new one may not repeat (0: none). */
  history: number;
}

const LIST_FILE = path.join(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), 'common-passwords.txt');
let common: Set<string> | undefined;

/** The bundled list of leaked passwords (see the file's header for its source), read once. */
export function commonPasswords(): Set<string> {
  common ??= new Set(
    fs
      .readFileSync(LIST_FILE, 'utf8')
      .split('\n')
      .map((l) => l.trim().toLowerCase())
      .filter((l) => l && !l.startsWith('#')),
  );
  return common;
}

/** A listed password with digits or symbols stuck on either end ("Password123!") is still that password. */
function isCommon(password: string): boolean {
  const lower = password.toLowerCase();
  const list = commonPasswords();
  if (list.has(lower)) return true;
  const core = lower.replace(/^[^a-z]+|[^a-z]+$/g, '');
  return core.length >= 4 && list.has(core);
}

/** Parts of the address's name ("jane.doe@bank.example": jane, doe, janedoe) long enough to mean something. */
function emailNames(email: string): string[] {
  const local = email.toLowerCase().split('@')[0] ?? '';
  const parts = local.split(/[^a-z0-9]+/).filter((p) => p.length >= 3);
  const joined = local.replace(/[^a-z0-9]/g, '');
  return [...new Set([...parts, ...(joined.length >= 3 ? [joined] : [])])];
}

/**
 * The checks a new password can fail without knowing the old ones (the history is checked by the
 * caller, which holds the hashes). Each refusal is a 400 naming the rule, never echoing the password.
 */
export function checkPasswordPolicy(password: string, email: string, policy: PasswordPolicy): void {
  const length = [...password].length;
  if (length < policy.minLength) throw new DomainError('BAD_REQUEST', `newPassword: must be at least ${policy.minLength} characters`);
  if (password.length > MAX_PASSWORD_LENGTH) throw new DomainError('BAD_REQUEST', `newPassword: must be at most ${MAX_PASSWORD_LENGTH} characters`);
  if (isCommon(password)) throw new DomainError('BAD_REQUEST', 'newPassword: this password is on the list of common or leaked passwords');
  const lower = password.toLowerCase();
  if (emailNames(email).some((name) => lower.includes(name)))
    throw new DomainError('BAD_REQUEST', 'newPassword: must not contain your email name');
  if (new Set(password).size < 4) throw new DomainError('BAD_REQUEST', 'newPassword: uses too few different characters');
}
