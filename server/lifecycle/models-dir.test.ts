import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { deploymentEvents, deployments, modelVersions } from '../db/schema';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { registerModelsDir } from './models-dir';

let t: TestDatabase;
let dir: string;
beforeAll(async () => {
  t = await createTestDatabase('modelsdir');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-models-'));
  fs.copyFileSync(path.resolve(__dirname, '../../models/stories260K.gguf'), path.join(dir, 'stories260K.gguf'));
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a model');
  fs.writeFileSync(path.join(dir, 'broken.gguf'), 'not a model either');
});
afterAll(async () => {
  await t?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('each .gguf file becomes a model version and a llamacpp deployment named after the file', async () => {
  const { registered: first, skipped } = await registerModelsDir(t.db, dir, { llamacpp: { threads: 1 } });
  expect(first.map((m) => m.name)).toEqual(['stories260K']);
  // A file named .gguf that is not one is skipped with the catalog's reason, not registered.
  expect(skipped).toEqual([{ file: path.join(dir, 'broken.gguf'), reason: 'location: not a GGUF file (no GGUF header)' }]);
  expect(first[0]!.created).toBe(true);
  const [version] = await t.db.select().from(modelVersions).where(eq(modelVersions.id, first[0]!.modelVersionId));
  expect(version!.format).toBe('gguf');
  expect(version!.sha256).toBe('270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d');
  expect(version!.sizeBytes).toBe(1185376);
  const [dep] = await t.db.select().from(deployments).where(eq(deployments.name, 'stories260K'));
  expect(dep!.engine).toBe('llamacpp');
  expect(dep!.spec).toEqual({ engine: 'llamacpp', replicas: 1, llamacpp: { threads: 1 } });
  const events = await t.db.select().from(deploymentEvents).where(eq(deploymentEvents.deploymentId, dep!.id));
  expect(events.map((e) => e.message)).toEqual(['registered from the models directory: stories260K.gguf on llamacpp, 1 replica']);

  const { registered: again } = await registerModelsDir(t.db, dir, { llamacpp: { threads: 1 } });
  expect(again[0]!.created).toBe(false);
  expect(again[0]!.modelVersionId).toBe(first[0]!.modelVersionId);
  expect(again[0]!.deploymentId).toBe(first[0]!.deploymentId);
});

test('a missing directory is a clear error', async () => {
  await expect(registerModelsDir(t.db, path.join(dir, 'nope'), {})).rejects.toThrow(/does not exist/);
});
