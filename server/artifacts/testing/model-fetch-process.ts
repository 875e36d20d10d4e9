import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { artifactStore, closeArtifactBackends } from '..';
import { env } from '../../core/env';
import { createDb } from '../../db/client';
import { modelPreparer } from '../../fleet/model-cache';
import { listAssignments } from '../../fleet/nodes/assignments';

/**
 * An agent on another host, in a process of its own: its own data directory (ENCLAVE_DATA_DIR), sharing
 * only the database and the artifact store (ENCLAVE_ARTIFACTS and its settings, from the environment) with
 * the worker that produced the models. It prepares every replica assigned to TEST_NODE the way the agent
 * does before launching an engine (fleet/model-cache.ts) and tells the parent where the model and adapters
 * ended up, with each file's SHA-256.
 */
const db = createDb(process.env.DATABASE_URL!, 2);
const masterKey = Buffer.from(process.env.TEST_MASTER_KEY_HEX!, 'hex');

function hashes(dir: string): Record<string, string> {
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

try {
  const prepare = modelPreparer(env().dataDir, () => artifactStore(env(), db, masterKey));
  const prepared = [];
  for (const a of await listAssignments(db, process.env.TEST_NODE!, masterKey)) {
    const local = await prepare(a);
    const adapters = (local.spec.loraAdapters as { name: string; path: string }[] | undefined) ?? [];
    prepared.push({
      replicaId: a.replicaId,
      modelLocation: local.modelLocation,
      model: local.modelLocation ? hashes(local.modelLocation) : null,
      adapters: adapters.map((x) => ({ name: x.name, path: x.path, files: fs.existsSync(x.path) ? hashes(x.path) : {} })),
    });
  }
  process.send!({ dataDir: env().dataDir, prepared });
} catch (e) {
  process.send!({ error: (e as Error).message });
} finally {
  await closeArtifactBackends();
  await db.$client.end();
}
