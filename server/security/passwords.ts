import { type Algorithm, hash, verify } from '@node-rs/argon2';

// OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane): a sign-in costs tens of milliseconds here.
// Algorithm is an ambient const enum, which isolatedModules cannot read: 2 is Algorithm.Argon2id.
const ARGON2ID = 2 as Algorithm;
const OPTIONS = { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 1 };

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

/** A hash of nothing anyone knows, verified against when the email is unknown so timing matches a real account. */
let decoy: Promise<string> | undefined;

/** True when the password matches; an unknown account (hash undefined) still costs one full verify. */
export async function verifyPassword(passwordHash: string | undefined, password: string): Promise<boolean> {
  decoy ??= hashPassword(`decoy-${Math.random()}`);
  const target = passwordHash ?? (await decoy);
  try {
    const ok = await verify(target, password);
    return ok && passwordHash !== undefined;
  } catch {
    // A malformed stored hash is a failed sign-in, not a crash.
    return false;
  }
}
