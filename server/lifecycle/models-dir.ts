import fs from 'node:fs';
import path from 'node:path';
import { and, eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { deployments, models, modelVersions } from '../db/schema';
import { DomainError } from '../core/errors';
import { registerVersion } from './catalog';
import { recordEvent } from './deployment-events';

export interface RegisteredModel {
  name: string;
  modelVersionId: string;
  deploymentId: string;
  created: boolean;
}

/** A served name must be usable as an OpenAI `model` value and a URL segment. */
export function servedNameFor(file: string): string {
  return path.basename(file, path.extname(file)).replace(/[^A-Za-z0-9._-]/g, '-');
}

/**
 * Every `.gguf` file in the directory becomes a model, a version (format gguf, with its sha256 and
 * size) and a deployment on the built-in llamacpp engine served under the file's name. A file that is
 * not a GGUF model is skipped with its reason rather than stopping the start.
 */
export async function registerModelsDir(db: Db, dir: string, extraSpec: Record<string, unknown> = {}): Promise<{ registered: RegisteredModel[]; skipped: { file: string; reason: string }[] }> {
  const spec = { engine: 'llamacpp', replicas: 1, ...extraSpec };
  if (!fs.existsSync(dir)) throw new Error(`ENCLAVE_MODELS_DIR ${dir} does not exist`);
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.toLowerCase().endsWith('.gguf'))
    .map((f) => path.resolve(dir, f))
    .sort();
  const out: RegisteredModel[] = [];
  const skipped: { file: string; reason: string }[] = [];
  for (const file of files) {
    const name = servedNameFor(file);
    const size = fs.statSync(file).size;
    // Known files (same location and size) are left alone, so a restart costs no re-hashing.
    const [known] = await db
      .select({ id: modelVersions.id })
      .from(modelVersions)
      .innerJoin(models, eq(models.id, modelVersions.modelId))
      .where(and(eq(models.name, name), eq(modelVersions.location, file), eq(modelVersions.sizeBytes, size)))
      .limit(1);
    let versionId = known?.id;
    if (!versionId) {
      // The catalog's own registration: it checks the GGUF header and hashes files up to 1 GiB.
      const registered = await registerVersion(db, { modelName: name, format: 'gguf', location: file }).catch((e) => {
        if (e instanceof DomainError) return { skipped: e.message };
        throw e;
      });
      if ('skipped' in registered) {
        skipped.push({ file, reason: registered.skipped });
        continue;
      }
      versionId = registered.id;
    }
    const created = !known;
    const [existing] = await db.select({ id: deployments.id }).from(deployments).where(eq(deployments.name, name)).limit(1);
    const [deployment] = await db
      .insert(deployments)
      .values({ name, modelVersionId: versionId, engine: 'llamacpp', spec, desiredReplicas: 1, status: 'pending' })
      .onConflictDoUpdate({ target: deployments.name, set: { modelVersionId: versionId, updatedAt: new Date() } }) // an engineer's later changes to the spec stay
      .returning();
    if (!existing) await recordEvent(db, deployment!.id, 'info', `registered from the models directory: ${path.basename(file)} on llamacpp, 1 replica`);
    out.push({ name, modelVersionId: versionId, deploymentId: deployment!.id, created });
  }
  return { registered: out, skipped };
}
