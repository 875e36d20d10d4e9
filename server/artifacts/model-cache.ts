import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { checkKey } from './keys';
import { ArtifactStore } from './store';
import { directoryPrefix, isDirectoryArtifact, readDirectoryIndex, type DirectoryFile } from './directory';
import { log } from '../core/log';

/** A model version's sealed copy in the artifact store, and what the fetched file must match (the version's record). */
export interface ModelArtifact {
  key: string;
  sizeBytes: number | null;
  sha256: string | null;
}

/**
 * Where a model's plaintext comes from: the store itself (a host holding the master key), or a function
 * that opens it another way (a joined agent: the control plane streams it, see api/agent-http.ts).
 */
export type ModelSource = ArtifactStore | ((key: string) => Promise<NodeJS.ReadableStream | AsyncIterable<Uint8Array>>);

/** Where a host keeps fetched models: `<dataDir>/model-cache/<artifact key>` (keys are safe relative names). */
export function cachedModelPath(dataDir: string, key: string): string {
  return path.join(dataDir, 'model-cache', ...checkKey(key).split('/'));
}

// One fetch per file at a time in this process: two replicas (or a job and a replica) of one version share it.
const inFlight = new Map<string, Promise<string>>();

/**
 * The model file on this host (for an agent's engine, or a job reading a source version): the version's
 * location when this host has it (the worker that produced it, or a shared mount), else the cached copy of its artifact, fetched first when absent. The fetch streams
 * the plaintext (each 1 MiB frame authenticated by the store, here or on the control plane) into `<file>.<random>.partial`, checks
 * its size (and SHA-256 when the version recorded one), and renames it into place: a cut or altered
 * download never becomes the file an engine loads, and a cached file is whole.
 */
export async function localModelPath(dataDir: string, source: ModelSource, location: string, artifact: ModelArtifact): Promise<string> {
  if (fs.existsSync(location)) return location;
  const directory = isDirectoryArtifact(artifact.key);
  // A directory (adapter, Hugging Face checkpoint) is cached as `<dataDir>/model-cache/<prefix>/`, renamed into
  // place only once every file was fetched and checked: the directory existing means it is whole.
  const target = cachedModelPath(dataDir, directory ? directoryPrefix(artifact.key) : artifact.key);
  const cached = fs.statSync(target, { throwIfNoEntry: false });
  if (directory ? cached?.isDirectory() : cached?.isFile() && (artifact.sizeBytes === null || cached.size === artifact.sizeBytes)) return target;
  let running = inFlight.get(target);
  if (!running) {
    running = (directory ? fetchDirectoryInto(source, artifact.key, target) : fetchInto(source, artifact, target)).finally(() => inFlight.delete(target));
    inFlight.set(target, running);
  }
  return running;
}

const open = async (source: ModelSource, key: string) => (source instanceof ArtifactStore ? source.readable(key) : await source(key));

/**
 * A directory artifact into `target`: its index first (authenticated by the store, its paths and keys
 * checked), then each file into `<target>.<random>.partial/`, each checked against the index's size and
 * SHA-256, then the whole directory renamed into place. Another process that finished first wins; ours goes.
 */
async function fetchDirectoryInto(source: ModelSource, indexKey: string, target: string): Promise<string> {
  const t0 = performance.now();
  const index = await readDirectoryIndex(indexKey, (await open(source, indexKey)) as AsyncIterable<Uint8Array>);
  fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
  const partial = `${target}.${randomBytes(6).toString('hex')}.partial`;
  fs.mkdirSync(partial, { mode: 0o700 });
  try {
    for (const file of index.files) await fetchFile(source, file, path.join(partial, ...file.path.split('/')));
    try {
      fs.renameSync(partial, target);
    } catch (e) {
      // Fetched meanwhile by another process sharing this cache: its copy is whole too.
      if (!fs.statSync(target, { throwIfNoEntry: false })?.isDirectory()) throw e;
      fs.rmSync(partial, { recursive: true, force: true });
    }
  } catch (e) {
    fs.rmSync(partial, { recursive: true, force: true });
    throw e;
  }
  log.info('fetched a model directory from the artifact store', { key: indexKey, files: index.files.length, bytes: index.bytes, seconds: Number(((performance.now() - t0) / 1000).toFixed(2)) });
  return target;
}

async function fetchFile(source: ModelSource, file: DirectoryFile, dest: string): Promise<void> {
  fs.mkdirSync(path.dirname(dest), { recursive: true, mode: 0o700 });
  const hash = createHash('sha256');
  let bytes = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      hash.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline(await open(source, file.key), count, fs.createWriteStream(dest, { mode: 0o600 }));
  if (bytes !== file.size) throw new Error(`fetched ${bytes} bytes of ${file.key} (${file.path}), the index records ${file.size}`);
  if (hash.digest('hex') !== file.sha256) throw new Error(`the fetched ${file.key} (${file.path}) does not match the index's SHA-256`);
}

async function fetchInto(source: ModelSource, artifact: ModelArtifact, target: string): Promise<string> {
  fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
  const partial = `${target}.${randomBytes(6).toString('hex')}.partial`;
  const hash = createHash('sha256');
  let bytes = 0;
  const t0 = performance.now();
  try {
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        hash.update(chunk);
        done(null, chunk);
      },
    });
    const plain = await open(source, artifact.key);
    await pipeline(plain, count, fs.createWriteStream(partial, { mode: 0o600 }));
    if (artifact.sizeBytes !== null && bytes !== artifact.sizeBytes) throw new Error(`fetched ${bytes} bytes of ${artifact.key}, the version records ${artifact.sizeBytes}`);
    const sha = hash.digest('hex');
    if (artifact.sha256 && sha !== artifact.sha256) throw new Error(`the fetched ${artifact.key} does not match the version's SHA-256`);
    fs.renameSync(partial, target);
  } catch (e) {
    fs.rmSync(partial, { force: true });
    throw e;
  }
  log.info('fetched a model from the artifact store', { key: artifact.key, bytes, seconds: Number(((performance.now() - t0) / 1000).toFixed(2)) });
  return target;
}

