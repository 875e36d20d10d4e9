import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ArtifactError } from './backend';
import { checkKey } from './keys';
import type { ArtifactStore } from './store';

/**
 * A directory (a LoRA adapter, a merged or quantized Hugging Face checkpoint) in the artifact store: one
 * sealed object per file under `<prefix>/`, and a sealed index `<prefix>.dir.json` naming every file with
 * its size and SHA-256. The index is written last, so its presence means every file is there; it is the key
 * a model version records (model_versions.artifact_key), and what the model cache fetches first.
 */
export const DIR_INDEX_SUFFIX = '.dir.json';
export const DIR_INDEX_FORMAT = 'enclave-dir/1';

export interface DirectoryFile {
  /** Relative to the directory, forward slashes. */
  path: string;
  /** The object holding it. */
  key: string;
  size: number;
  sha256: string;
}

export interface DirectoryIndex {
  format: typeof DIR_INDEX_FORMAT;
  files: DirectoryFile[];
  bytes: number;
}

export const isDirectoryArtifact = (key: string) => key.endsWith(DIR_INDEX_SUFFIX);
export const directoryIndexKey = (prefix: string) => `${checkKey(prefix)}${DIR_INDEX_SUFFIX}`;
/** `models/<job>/merged.dir.json` → `models/<job>/merged`: every file of the directory is under `<prefix>/`. */
export function directoryPrefix(indexKey: string): string {
  if (!isDirectoryArtifact(indexKey)) throw new ArtifactError('FAILED', `${indexKey} is not a directory artifact (no ${DIR_INDEX_SUFFIX})`);
  return indexKey.slice(0, -DIR_INDEX_SUFFIX.length);
}

/** Every regular file under `dir` (symbolic links followed), sorted, relative with forward slashes. */
export function directoryFiles(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const child = rel ? `${rel}/${entry.name}` : entry.name;
    const stat = fs.statSync(path.join(dir, child));
    if (stat.isDirectory()) out.push(...directoryFiles(dir, child));
    else if (stat.isFile()) out.push(child);
    else throw new ArtifactError('FAILED', `${path.join(dir, child)} is neither a file nor a directory: a model directory holds files only`);
  }
  return out;
}

/** A file's path inside a directory, checked: relative, forward slashes, no empty, `.` or `..` segment. */
export function checkRelativePath(rel: string): string {
  const segments = typeof rel === 'string' ? rel.split('/') : [];
  if (!segments.length || rel.length > 1024 || segments.some((s) => s === '' || s === '.' || s === '..' || s.includes('\\') || s.includes('\0')))
    throw new ArtifactError('FAILED', `${JSON.stringify(String(rel).slice(0, 100))} is not a path inside a directory`);
  return rel;
}

/**
 * The object key of one file: its own path when that is a valid key, else a name made from the path's hash
 * (a space, a leading dot: names the store refuses); the index keeps the real name either way. The same
 * path always gets the same key, whoever stores it (this host, or the control plane for a joined agent).
 */
export function directoryFileKey(prefix: string, rel: string): string {
  checkRelativePath(rel);
  try {
    return checkKey(`${prefix}/${rel}`);
  } catch {
    return `${prefix}/_enclave-file-${createHash('sha256').update(rel).digest('hex').slice(0, 16)}`;
  }
}

/** Seals one file of a directory from a stream; the size and SHA-256 of what was stored. */
export async function storeDirectoryFile(store: ArtifactStore, prefix: string, rel: string, body: AsyncIterable<Buffer | string>): Promise<DirectoryFile> {
  const key = directoryFileKey(prefix, rel);
  const hash = createHash('sha256');
  // The install's data key (owner null): a model belongs to the install, not to whoever started the job.
  const stored = await store.put(key, hashing(body, hash), { owner: null });
  return { path: rel, key, size: stored.plainBytes, sha256: hash.digest('hex') };
}

/**
 * Writes the index of files already stored (each checked to be there with its size): what makes the
 * directory whole. Returns the index's key.
 */
export async function storeDirectoryIndex(store: ArtifactStore, prefix: string, files: DirectoryFile[]): Promise<{ key: string; index: DirectoryIndex }> {
  const indexKey = directoryIndexKey(prefix);
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.path) || f.key !== directoryFileKey(prefix, f.path)) throw new ArtifactError('FAILED', `The file list of ${prefix} names ${f.path} twice or under another key`);
    seen.add(f.path);
    const there = await store.head(f.key);
    if (!there || there.size !== f.size) throw new ArtifactError('FAILED', `${f.key} is ${there ? `${there.size} bytes, not ${f.size}` : 'not in the store'}`);
  }
  const index: DirectoryIndex = { format: DIR_INDEX_FORMAT, files, bytes: files.reduce((s, f) => s + f.size, 0) };
  await store.put(indexKey, once(Buffer.from(JSON.stringify(index))), { owner: null });
  return { key: indexKey, index };
}

/**
 * Seals every file of `dir` into the store under `<prefix>/`, then the index; returns the index's key. Each
 * file is streamed (memory stays flat for a 100 GB checkpoint) and checked by size against the file. On any
 * failure every object written so far is removed: a directory is in the store whole or not at all.
 */
export async function storeDirectory(store: ArtifactStore, prefix: string, dir: string): Promise<{ key: string; index: DirectoryIndex }> {
  directoryIndexKey(prefix);
  const stat = fs.statSync(dir, { throwIfNoEntry: false });
  if (!stat?.isDirectory()) throw new ArtifactError('FAILED', `${dir} is not a directory on this host`);
  const written: string[] = [];
  try {
    const files: DirectoryFile[] = [];
    for (const rel of directoryFiles(dir)) {
      const abs = path.join(dir, rel);
      const size = fs.statSync(abs).size;
      written.push(directoryFileKey(prefix, rel));
      const file = await storeDirectoryFile(store, prefix, rel, fs.createReadStream(abs, { highWaterMark: 1024 * 1024 }));
      // A file still being written under us would make an index that does not describe the model.
      if (file.size !== size) throw new ArtifactError('FAILED', `stored ${file.size} bytes of ${abs}, but the file has ${size}`);
      files.push(file);
    }
    written.push(directoryIndexKey(prefix));
    return await storeDirectoryIndex(store, prefix, files);
  } catch (e) {
    for (const key of written) await store.delete(key).catch(() => undefined);
    throw e;
  }
}

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

async function* hashing(source: AsyncIterable<Buffer | string>, hash: ReturnType<typeof createHash>): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    hash.update(b);
    yield b;
  }
}

/** Indexes are small; anything larger is not one of ours. */
const MAX_INDEX_BYTES = 16 * 1024 * 1024;

/**
 * Parses an index read back (from the store, or from the control plane for a joined agent) and checks it:
 * every path relative and inside the directory, every key under the index's own prefix, so an index can
 * neither write outside the cache nor make a host fetch another version's objects.
 */
export async function readDirectoryIndex(indexKey: string, body: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>): Promise<DirectoryIndex> {
  const prefix = directoryPrefix(indexKey);
  const parts: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of body) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk);
    bytes += b.length;
    if (bytes > MAX_INDEX_BYTES) throw new ArtifactError('CORRUPT', `The index ${indexKey} is larger than ${MAX_INDEX_BYTES} bytes`);
    parts.push(b);
  }
  let index: DirectoryIndex;
  try {
    index = JSON.parse(Buffer.concat(parts).toString('utf8')) as DirectoryIndex;
  } catch {
    throw new ArtifactError('CORRUPT', `The index ${indexKey} is not valid JSON`);
  }
  if (index?.format !== DIR_INDEX_FORMAT || !Array.isArray(index.files)) throw new ArtifactError('CORRUPT', `The index ${indexKey} is not an ${DIR_INDEX_FORMAT} index`);
  const seen = new Set<string>();
  for (const f of index.files) {
    const segments = typeof f?.path === 'string' ? f.path.split('/') : [];
    if (!segments.length || segments.some((s) => s === '' || s === '.' || s === '..' || s.includes('\\') || s.includes('\0')) || seen.has(f.path))
      throw new ArtifactError('CORRUPT', `The index ${indexKey} names a file outside its directory (or twice): ${JSON.stringify(String(f?.path).slice(0, 100))}`);
    seen.add(f.path);
    if (typeof f.key !== 'string' || !f.key.startsWith(`${prefix}/`)) throw new ArtifactError('CORRUPT', `The index ${indexKey} names an object outside ${prefix}/`);
    checkKey(f.key);
    if (!Number.isSafeInteger(f.size) || f.size < 0 || typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256))
      throw new ArtifactError('CORRUPT', `The index ${indexKey} has no valid size or SHA-256 for ${f.path}`);
  }
  return index;
}

/** Removes a directory artifact: the index first (the directory stops being whole at once), then its files. */
export async function deleteDirectory(store: ArtifactStore, indexKey: string): Promise<void> {
  const prefix = directoryPrefix(indexKey);
  await store.delete(indexKey);
  for await (const object of store.list(`${prefix}/`)) await store.delete(object.key);
}

/**
 * Whether `key` is one of these artifacts or a file of one of these directory artifacts: what a host that
 * may read those artifacts may ask for, and nothing else (the control plane's check for a joined agent).
 */
export function isKeyOf(key: string, artifacts: { key: string }[]): boolean {
  checkKey(key);
  return artifacts.some((a) => a.key === key || (isDirectoryArtifact(a.key) && key.startsWith(`${directoryPrefix(a.key)}/`)));
}
