import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { and, asc, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../db/client';
import { MODEL_FORMATS, models, modelVersions } from '../db/schema';
import { DomainError } from '../core/errors';

export const registerVersionSchema = z.object({
  modelName: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._\/-]{0,127}$/, 'letters, digits, dot, dash, underscore and slash; up to 128'),
  version: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, dot, dash, underscore; up to 64').optional(),
  format: z.enum(MODEL_FORMATS),
  location: z.string().min(1).max(1024),
  dtype: z.string().max(32).optional(),
  quantization: z.string().max(32).optional(),
  parentVersionId: z.string().uuid().optional(),
});
export type RegisterVersionInput = z.infer<typeof registerVersionSchema>;

/** Hashing a 100 GB checkpoint in a request would hold it for minutes: larger files keep sha256 null. */
const HASH_LIMIT_BYTES = 1024 ** 3;

export async function listCatalog(db: Db) {
  const rows = await db.select().from(models).leftJoin(modelVersions, eq(modelVersions.modelId, models.id)).orderBy(asc(models.name), asc(modelVersions.createdAt));
  const byId = new Map<string, { id: string; name: string; description: string; versions: ReturnType<typeof versionView>[] }>();
  for (const { models: m, model_versions: v } of rows) {
    const entry = byId.get(m.id) ?? { id: m.id, name: m.name, description: m.description, versions: [] };
    if (v) entry.versions.push(versionView(v));
    byId.set(m.id, entry);
  }
  return [...byId.values()];
}

function versionView(v: typeof modelVersions.$inferSelect) {
  const { id, version, format, dtype, quantization, location, sizeBytes, sha256, parentVersionId, createdAt } = v;
  return { id, version, format, dtype, quantization, location, sizeBytes, sha256, parentVersionId, createdAt };
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function directorySize(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile()) total += fs.statSync(path.join(dir, entry.name)).size;
  }
  return total;
}

/** What the location holds, checked on this host; the message says what was expected. */
async function inspectLocation(input: RegisterVersionInput): Promise<{ sizeBytes: number; sha256: string | null; dtype: string | null }> {
  const location = input.location;
  if (!path.isAbsolute(location)) throw new DomainError('BAD_REQUEST', 'location: give an absolute path on this host');
  const stat = fs.statSync(location, { throwIfNoEntry: false });
  if (!stat) throw new DomainError('BAD_REQUEST', `location: ${location} does not exist on this host`);
  if (input.format === 'gguf') {
    if (!stat.isFile()) throw new DomainError('BAD_REQUEST', 'location: a gguf version is one .gguf file');
    const magic = Buffer.alloc(4);
    const fd = fs.openSync(location, 'r');
    try {
      fs.readSync(fd, magic, 0, 4, 0);
    } finally {
      fs.closeSync(fd);
    }
    if (magic.toString('latin1') !== 'GGUF') throw new DomainError('BAD_REQUEST', 'location: not a GGUF file (no GGUF header)');
    return { sizeBytes: stat.size, sha256: stat.size <= HASH_LIMIT_BYTES ? await sha256File(location) : null, dtype: null };
  }
  if (!stat.isDirectory()) throw new DomainError('BAD_REQUEST', `location: a ${input.format} version is a directory`);
  const configName = input.format === 'hf' ? 'config.json' : 'adapter_config.json';
  const configPath = path.join(location, configName);
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(fs.readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'is missing' : 'is not valid JSON';
    throw new DomainError('BAD_REQUEST', `location: ${configName} ${why} in ${location}`);
  }
  if (input.format === 'hf' && typeof config.num_hidden_layers !== 'number')
    throw new DomainError('BAD_REQUEST', 'location: config.json has no num_hidden_layers; is this a Hugging Face model directory?');
  const dtype = typeof config.torch_dtype === 'string' ? config.torch_dtype : null;
  return { sizeBytes: directorySize(location), sha256: null, dtype };
}

/** Registers a version under a model (created on first use). Versions are named v1, v2... unless given. */
export async function registerVersion(
  db: Db,
  raw: RegisterVersionInput,
  /** What is known of the files without reading them here (a joined agent's output, read from the artifact store). */
  described?: { sizeBytes: number; sha256: string | null; dtype: string | null },
): Promise<{ id: string }> {
  const input = registerVersionSchema.parse(raw);
  if (input.parentVersionId) {
    const [parent] = await db.select({ id: modelVersions.id }).from(modelVersions).where(eq(modelVersions.id, input.parentVersionId));
    if (!parent) throw new DomainError('BAD_REQUEST', 'parentVersionId: no such model version');
  }
  const found = described ?? (await inspectLocation(input));
  return db.transaction(async (tx) => {
    const [model] = await tx.insert(models).values({ name: input.modelName }).onConflictDoUpdate({ target: models.name, set: { name: input.modelName } }).returning();
    const existing = await tx.select({ version: modelVersions.version }).from(modelVersions).where(eq(modelVersions.modelId, model!.id));
    const version = input.version ?? `v${existing.length + 1}`;
    if (existing.some((e) => e.version === version)) throw new DomainError('CONFLICT', `${input.modelName} already has a version ${version}`);
    const [row] = await tx
      .insert(modelVersions)
      .values({
        modelId: model!.id,
        version,
        format: input.format,
        location: input.location,
        dtype: input.dtype ?? found.dtype,
        quantization: input.quantization ?? null,
        sizeBytes: found.sizeBytes,
        sha256: found.sha256,
        parentVersionId: input.parentVersionId ?? null,
      })
      .onConflictDoNothing()
      .returning({ id: modelVersions.id });
    if (!row) throw new DomainError('CONFLICT', `${input.modelName} already has a version ${version}`);
    return row;
  });
}

export async function getVersion(db: Db, id: string) {
  const [row] = await db.select().from(modelVersions).where(and(eq(modelVersions.id, id)));
  return row ?? null;
}
