import fs from 'node:fs';
import path from 'node:path';
import { directoryIndexKey, readDirectoryIndex, storeDirectory, type ArtifactStore } from '../../artifacts';

/**
 * The artifact-store key of a job's output file: a name Enclave chooses (`models/<job id>/<file name>`),
 * known before the version row exists, so the upload can finish before the version is registered and a
 * registered version always has its object. One job's outputs (an adapter and its merge) differ by file name.
 */
export function outputArtifactKey(jobId: string, file: string): string {
  const name = path.basename(file).replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[._-]+/, '');
  return `models/${jobId}/${name || 'output'}`;
}

/**
 * Seals a job's output file into the artifact store (streamed, 1 MiB frames: memory stays flat for a
 * multi-gigabyte model) so an agent on any host can fetch it; the store leaves nothing under the key when
 * the upload fails. Checks the stored size against the file's, and returns the key.
 */
export async function storeOutputFile(store: ArtifactStore, jobId: string, file: string): Promise<string> {
  const key = outputArtifactKey(jobId, file);
  const size = fs.statSync(file).size;
  // The install's data key (owner null): a model belongs to the install, not to the engineer who started the job.
  const written = await store.put(key, fs.createReadStream(file, { highWaterMark: 1024 * 1024 }), { owner: null });
  // A file still being written (or cut) under us would register a version whose object is not the model.
  if (written.plainBytes !== size) {
    await store.delete(key).catch(() => undefined);
    throw new Error(`stored ${written.plainBytes} bytes of ${key}, but the output has ${size}`);
  }
  return key;
}

/** What a job's directory output is: a LoRA adapter, or a Hugging Face checkpoint (a merge, an FP16/INT8 quantization). */
export type OutputDirKind = 'adapter' | 'merged' | 'quantized';

/**
 * Where a job's directory output goes: `adapters/<job id>` for its adapter, `models/<job id>/<kind>` for a
 * checkpoint; the version records `<that>.dir.json`, the directory's index (artifacts/directory.ts).
 */
export const outputDirPrefix = (jobId: string, kind: OutputDirKind) => (kind === 'adapter' ? `adapters/${jobId}` : `models/${jobId}/${kind}`);

/**
 * Seals a job's output directory into the artifact store, one object per file, before its version is
 * registered (a registered version always has its objects), so an agent or a worker on any host can fetch
 * it into its model cache. Returns the index key the version records.
 */
export async function storeOutputDirectory(store: ArtifactStore, jobId: string, kind: OutputDirKind, dir: string): Promise<string> {
  return (await storeDirectory(store, outputDirPrefix(jobId, kind), dir)).key;
}

/** What registration needs of an uploaded directory, read from the store: its index key, size, dtype and configuration. */
export interface UploadedOutput {
  key: string;
  sizeBytes: number;
  dtype: string | null;
  /** config.json of a checkpoint (null for an adapter): what the planner reads. */
  config: Record<string, unknown> | null;
}

/** The directory a joined agent uploaded for this job's `kind`, or null when there is none. */
export async function uploadedOutput(store: ArtifactStore, jobId: string, kind: OutputDirKind, format: 'hf' | 'lora-adapter'): Promise<UploadedOutput | null> {
  const key = directoryIndexKey(outputDirPrefix(jobId, kind));
  if (!(await store.head(key))) return null;
  const index = await readDirectoryIndex(key, store.get(key));
  const configName = format === 'hf' ? 'config.json' : 'adapter_config.json';
  const entry = index.files.find((f) => f.path === configName);
  if (!entry) throw new Error(`the uploaded ${kind} has no ${configName}`);
  const parts: Buffer[] = [];
  for await (const chunk of store.get(entry.key)) parts.push(chunk);
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new Error(`the uploaded ${kind}'s ${configName} is not valid JSON`);
  }
  if (format === 'hf' && typeof config.num_hidden_layers !== 'number') throw new Error(`the uploaded ${kind}'s config.json has no num_hidden_layers`);
  return { key, sizeBytes: index.bytes, dtype: typeof config.torch_dtype === 'string' ? config.torch_dtype : null, config: format === 'hf' ? config : null };
}
