import fs from 'node:fs';
import path from 'node:path';
import { storeDirectory, type ArtifactStore } from '../../artifacts';

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
