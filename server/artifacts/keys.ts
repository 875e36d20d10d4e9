/**
 * Artifact keys are names Enclave chooses (`datasets/<uuid>.jsonl.enc`, `backups/<id>/manifest.json`), never
 * a path a user typed. Still, a key becomes a file path in the directory backend, so anything that could
 * climb out of the store or name something odd is refused here, once, for every backend.
 */
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const MAX_KEY_LENGTH = 512;

export class ArtifactKeyError extends Error {
  constructor(key: string, why: string) {
    super(`Artifact key ${JSON.stringify(key.slice(0, 100))} is not allowed: ${why}`);
    this.name = 'ArtifactKeyError';
  }
}

/** Returns the key when it is a safe relative name (segments of letters, digits, `._-`, no `..`); throws otherwise. */
export function checkKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0) throw new ArtifactKeyError(String(key), 'it is empty');
  if (key.length > MAX_KEY_LENGTH) throw new ArtifactKeyError(key, `it is longer than ${MAX_KEY_LENGTH} characters`);
  for (const segment of key.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') throw new ArtifactKeyError(key, 'empty, "." and ".." segments are refused');
    if (!SEGMENT.test(segment)) throw new ArtifactKeyError(key, 'only letters, digits, ".", "_" and "-" between slashes');
    // The directory backend writes `<name>.<random>.partial` beside the final file and skips those in listings.
    if (segment.endsWith('.partial')) throw new ArtifactKeyError(key, 'names ending in .partial are the store\'s own');
  }
  return key;
}

/** A listing prefix: empty (everything) or a key-like prefix, possibly ending in `/`. */
export function checkPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  checkKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
  return prefix;
}
