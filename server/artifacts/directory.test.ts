import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startApiTestServer } from '../api/testing/api-test-server';
import { redeemJoinToken, createJoinToken } from '../fleet/nodes/join-tokens';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { makeDeployment, makeModelVersion, makeReplica } from '../testing/factories';
import { startTestS3Server, type TestS3Server } from '../testing/s3-server';
import { ArtifactError, type ArtifactBackend } from './backend';
import { dirBackend } from './dir-backend';
import { isKeyOf, readDirectoryIndex, storeDirectory } from './directory';
import { cachedModelPath, localModelPath } from './model-cache';
import { s3Backend } from './s3-backend';
import { ArtifactStore, dataKeysOf } from './store';

/**
 * Directory artifacts (adapters, Hugging Face checkpoints): one sealed object per file and an index, on
 * both backends; fetched whole into another data directory's model cache or not at all; an index that
 * points outside its directory refused; and a joined agent reaching only its replica's artifacts by key.
 */
let t: TestDatabase;
let s3: TestS3Server;
let work: string;
const masterKey = randomBytes(32);

beforeAll(async () => {
  [t, s3] = await Promise.all([createTestDatabase('artifactdirs'), startTestS3Server('enclave-dirs')]);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-artifact-dirs-'));
});
afterAll(async () => {
  await Promise.all([t?.drop(), s3?.stop()]);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** A model-like directory: a nested file larger than one 1 MiB frame, a name the store refuses as a key, a hidden file. */
function modelDir(name: string): string {
  const dir = path.join(work, name);
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ num_hidden_layers: 2 }));
  fs.writeFileSync(path.join(dir, 'sub', 'weights.bin'), randomBytes(2_500_000));
  fs.writeFileSync(path.join(dir, 'a space.txt'), 'named with a space\n');
  fs.writeFileSync(path.join(dir, '.hidden'), 'kept too\n');
  return dir;
}

function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(child);
      else out[child] = createHash('sha256').update(fs.readFileSync(path.join(dir, child))).digest('hex');
    }
  };
  walk('');
  return out;
}

describe.each([
  ['a shared directory', () => dirBackend(fs.mkdtempSync(path.join(work, 'shared-')))],
  ['S3 (s3rver)', () => s3Backend(s3.settings({ prefix: `dirs-${randomBytes(3).toString('hex')}` }))],
])('directory artifacts on %s', (_label, makeBackend: () => ArtifactBackend) => {
  let backend: ArtifactBackend;
  let store: ArtifactStore;
  beforeAll(() => {
    backend = makeBackend();
    store = new ArtifactStore(backend, dataKeysOf(t.db, masterKey));
  });
  afterAll(() => backend?.close());

  test('stored one object per file with its index, fetched into another data directory whole and identical, then from the cache', async () => {
    const src = modelDir(`src-${backend.kind}`);
    const { key, index } = await storeDirectory(store, 'models/job-1/merged', src);
    expect(key).toBe('models/job-1/merged.dir.json');
    expect(index.files.map((f) => f.path).sort()).toEqual(Object.keys(tree(src)).sort());
    const byPath = new Map(index.files.map((f) => [f.path, f.key]));
    expect(byPath.get('sub/weights.bin')).toBe('models/job-1/merged/sub/weights.bin');
    // Names the store refuses as keys get a numbered object; the index keeps the real name.
    expect(byPath.get('a space.txt')).toMatch(/^models\/job-1\/merged\/_enclave-file-[0-9a-f]{16}$/);
    expect(byPath.get('.hidden')).toMatch(/^models\/job-1\/merged\/_enclave-file-[0-9a-f]{16}$/);
    const objects: string[] = [];
    for await (const o of store.list('models/job-1/')) objects.push(o.key);
    expect(objects.sort()).toEqual([...index.files.map((f) => f.key), key].sort());

    const other = fs.mkdtempSync(path.join(work, 'other-host-'));
    const local = await localModelPath(other, store, '/not/on/this/host', { key, sizeBytes: null, sha256: null });
    expect(local).toBe(cachedModelPath(other, 'models/job-1/merged'));
    expect(tree(local)).toEqual(tree(src));
    expect(fs.readdirSync(path.dirname(local))).toEqual(['merged']);
    // Cached: the same path, with the store not asked again (its objects gone would not matter).
    const reads: string[] = [];
    const counting = new ArtifactStore({ ...backend, read: (k, r) => (reads.push(k), backend.read(k, r)) }, dataKeysOf(t.db, masterKey));
    expect(await localModelPath(other, counting, '/not/on/this/host', { key, sizeBytes: null, sha256: null })).toBe(local);
    expect(reads).toEqual([]);
  }, 60_000);

  test('a file altered in the store fails the fetch and leaves nothing in the cache', async () => {
    const src = modelDir(`alter-${backend.kind}`);
    const { key, index } = await storeDirectory(store, 'adapters/job-2', src);
    const victim = index.files.find((f) => f.path === 'sub/weights.bin')!;
    const chunks: Buffer[] = [];
    for await (const c of (await backend.read(victim.key)) as AsyncIterable<Buffer>) chunks.push(c);
    const stored = Buffer.concat(chunks);
    const altered = Buffer.from(stored);
    altered[stored.length - 100]! ^= 0xff;
    await backend.write(victim.key, (await import('node:stream')).Readable.from([altered]));
    const other = fs.mkdtempSync(path.join(work, 'altered-'));
    await expect(localModelPath(other, store, '/not/here', { key, sizeBytes: null, sha256: null })).rejects.toThrow(/CORRUPT|authenticat|altered/i);
    const cacheDir = path.join(other, 'model-cache', 'adapters');
    expect(fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir) : []).toEqual([]);
  }, 60_000);

  test('an upload that fails half way leaves no object of the directory behind', async () => {
    const src = modelDir(`fail-${backend.kind}`);
    let writes = 0;
    const failing = new ArtifactStore(
      {
        ...backend,
        write: async (k, body) => {
          if (++writes === 3) throw new ArtifactError('UNREACHABLE', 'the store went away');
          return backend.write(k, body);
        },
      },
      dataKeysOf(t.db, masterKey),
    );
    await expect(storeDirectory(failing, 'models/job-3/quantized', src)).rejects.toThrow(/went away/);
    const left: string[] = [];
    for await (const o of store.list('models/job-3/')) left.push(o.key);
    expect(left).toEqual([]);
  }, 60_000);
});

test('an index naming a path outside its directory, another prefix or no hash is refused', async () => {
  const index = (files: unknown[]) => [Buffer.from(JSON.stringify({ format: 'enclave-dir/1', files, bytes: 0 }))];
  const ok = { path: 'config.json', key: 'models/j/merged/config.json', size: 2, sha256: 'a'.repeat(64) };
  await expect(readDirectoryIndex('models/j/merged.dir.json', index([ok]))).resolves.toMatchObject({ files: [ok] });
  await expect(readDirectoryIndex('models/j/merged.dir.json', index([{ ...ok, path: '../../.ssh/authorized_keys' }]))).rejects.toThrow(/outside its directory/);
  await expect(readDirectoryIndex('models/j/merged.dir.json', index([{ ...ok, path: '/etc/passwd' }]))).rejects.toThrow(/outside its directory/);
  await expect(readDirectoryIndex('models/j/merged.dir.json', index([{ ...ok, key: 'models/other/merged/config.json' }]))).rejects.toThrow(/outside models\/j\/merged/);
  await expect(readDirectoryIndex('models/j/merged.dir.json', index([{ ...ok, sha256: 'nope' }]))).rejects.toThrow(/SHA-256/);
  await expect(readDirectoryIndex('models/j/merged.dir.json', [Buffer.from('{not json')])).rejects.toThrow(/not valid JSON/);
  expect(isKeyOf('models/j/merged/sub/w.bin', [{ key: 'models/j/merged.dir.json' }])).toBe(true);
  expect(isKeyOf('models/k/merged/w.bin', [{ key: 'models/j/merged.dir.json' }])).toBe(false);
  expect(() => isKeyOf('models/j/merged/../../k/x', [{ key: 'models/j/merged.dir.json' }])).toThrow(/not allowed/);
});

test("a joined agent reads its replica's model and adapter artifacts by key, file by file, and nothing else", async () => {
  const backend = s3Backend(s3.settings());
  const store = new ArtifactStore(backend, dataKeysOf(t.db, masterKey));
  const merged = await storeDirectory(store, 'models/job-9/merged', modelDir('agent-merged'));
  const adapter = await storeDirectory(store, 'adapters/job-9', modelDir('agent-adapter'));
  const stranger = await storeDirectory(store, 'models/job-10/merged', modelDir('agent-stranger'));
  const { version } = await makeModelVersion(t.db, { format: 'hf', location: '/elsewhere/merged', artifactKey: merged.key });
  await makeModelVersion(t.db, { format: 'lora-adapter', location: '/elsewhere/adapter', artifactKey: adapter.key });
  const { token } = await createJoinToken(t.db);
  const { credential } = await redeemJoinToken(t.db, token, { name: 'joined-host', labels: {}, gpus: [], topology: null });
  const spec = { engine: 'vllm', loraAdapters: [{ name: 'ft', path: '/elsewhere/adapter' }] };
  const { deployment } = await makeDeployment(t.db, { modelVersionId: version.id, engine: 'vllm', status: 'pending', spec });
  const replica = await makeReplica(t.db, deployment.id, { nodeName: 'joined-host', status: 'starting' });
  const api = await startApiTestServer({
    db: t.db,
    masterKey,
    env: { ENCLAVE_DATA_DIR: fs.mkdtempSync(path.join(work, 'cp-')), ENCLAVE_ARTIFACTS: 's3', ENCLAVE_S3_ENDPOINT: s3.endpoint, ENCLAVE_S3_BUCKET: s3.bucket, ENCLAVE_S3_ACCESS_KEY_ID: 'S3RVER', ENCLAVE_S3_SECRET_ACCESS_KEY: 'S3RVER', ENCLAVE_S3_FORCE_PATH_STYLE: 'true' },
  });
  try {
    const get = (key?: string) =>
      api.request(`/api/agent/replicas/${replica.id}/model${key === undefined ? '' : `?key=${encodeURIComponent(key)}`}`, { headers: { authorization: `Bearer ${credential}` } });
    const text = async (key?: string) => {
      const res = await get(key);
      return [res.status, Buffer.from(await res.arrayBuffer())] as const;
    };
    // Without a key: the model's index (a directory artifact), as before for a single file.
    const [status, body] = await text();
    expect(status).toBe(200);
    expect(JSON.parse(body.toString('utf8'))).toEqual(merged.index);
    const weights = adapter.index.files.find((f) => f.path === 'sub/weights.bin')!;
    const [s2, b2] = await text(weights.key);
    expect(s2).toBe(200);
    expect(createHash('sha256').update(b2).digest('hex')).toBe(weights.sha256);
    expect((await get(adapter.key)).status).toBe(200);
    expect((await get(stranger.index.files[0]!.key)).status).toBe(404);
    expect((await get(stranger.key)).status).toBe(404);
    expect((await get('models/job-9/merged/../../job-10/merged/config.json')).status).toBe(400);
  } finally {
    await api.close();
    await backend.close();
  }
}, 60_000);
