import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { and, eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { deployments, models, modelVersions } from '../db/schema';
import { recordEvent } from './deployment-events';

export interface RegisteredModel {
  name: string;
  modelVersionId: string;
  deploymentId: string;
  created: boolean;
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A served name must be usable as an OpenAI `model` value and a URL segment. */
export function servedNameFor(file: string): string {
  return path.basename(file, path.extname(file)).replace(/[^A-Za-z0-9._-]/g, '-');
}

/**
 * Every `.gguf` file in the directory becomes a model, a version (format gguf, with its sha256 and
 * size) and a deployment on the built-in llamacpp engine served under the file's name. Known files
 * (same location and size) are left alone, so a restart costs no re-hashing.
 */
export async function registerModelsDir(db: Db, dir: string, extraSpec: Record<string, unknown> = {}): Promise<RegisteredModel[]> {
  const spec = { engine: 'llamacpp', replicas: 1, ...extraSpec };
  if (!fs.existsSync(dir)) throw new Error(`ENCLAVE_MODELS_DIR ${dir} does not exist`);
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.toLowerCase().endsWith('.gguf'))
    .map((f) => path.resolve(dir, f))
    .sort();
  const out: RegisteredModel[] = [];
  for (const file of files) {
    const name = servedNameFor(file);
    const size = fs.statSync(file).size;
    const [model] = await db.insert(models).values({ name }).onConflictDoUpdate({ target: models.name, set: { name } }).returning();
    let [version] = await db
      .select()
      .from(modelVersions)
      .where(and(eq(modelVersions.modelId, model!.id), eq(modelVersions.location, file), eq(modelVersions.sizeBytes, size)))
      .limit(1);
    let created = false;
    if (!version) {
      const existing = await db.select({ id: modelVersions.id }).from(modelVersions).where(eq(modelVersions.modelId, model!.id));
      [version] = await db
        .insert(modelVersions)
        .values({ modelId: model!.id, version: `v${existing.length + 1}`, format: 'gguf', location: file, sizeBytes: size, sha256: await sha256File(file) })
        .returning();
      created = true;
    }
    const [existing] = await db.select({ id: deployments.id }).from(deployments).where(eq(deployments.name, name)).limit(1);
    const [deployment] = await db
      .insert(deployments)
      .values({ name, modelVersionId: version!.id, engine: 'llamacpp', spec, desiredReplicas: 1, status: 'pending' })
      .onConflictDoUpdate({ target: deployments.name, set: { modelVersionId: version!.id, updatedAt: new Date() } }) // an engineer's later changes to the spec stay
      .returning();
    if (!existing) await recordEvent(db, deployment!.id, 'info', `registered from the models directory: ${path.basename(file)} on llamacpp, 1 replica`);
    out.push({ name, modelVersionId: version!.id, deploymentId: deployment!.id, created });
  }
  return out;
}
