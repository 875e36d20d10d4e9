import { z } from 'zod';
import type { Db } from '../../db/client';
import { DomainError } from '../../core/errors';
import {
  checkRelativePath,
  storeDirectoryFile,
  storeDirectoryIndex,
  type ArtifactStore,
  type DirectoryFile,
} from '../../artifacts';
import type { JobRow } from './access';
import { outputDirPrefix, type OutputDirKind } from './output-artifact';
import { agentJob } from './remote';

/**
 * A joined agent's trainer outputs (it holds no master key and shares no disk with the control plane):
 * before it reports a successful exit, the agent sends each file of each output directory to the control
 * plane, which seals it into the artifact store under the same keys a worker would use, then the list of
 * files, which becomes the directory's index. The control plane's settling of the exit then registers the
 * versions from what is in the store (uploadedOutput, finish.ts), so they are usable on any host.
 */
export const OUTPUT_KINDS: Record<JobRow['kind'], readonly OutputDirKind[]> = { finetune: ['adapter', 'merged'], quantize: ['quantized'] };

/** The job, when this node runs attempt `attempt` of it and `kind` is one of its outputs; a DomainError otherwise. */
export async function outputUploadJob(db: Db, nodeName: string, jobId: string, attempt: number, kind: string): Promise<JobRow> {
  const job = await agentJob(db, nodeName, jobId);
  if (job.status !== 'running' || job.attempts !== attempt) throw new DomainError('CONFLICT', `The job has moved on (${job.status}, attempt ${job.attempts}): attempt ${attempt} sends no outputs`);
  if (!(OUTPUT_KINDS[job.kind] as readonly string[]).includes(kind)) throw new DomainError('BAD_REQUEST', `A ${job.kind} job's outputs are ${OUTPUT_KINDS[job.kind].join(', ')}, not ${kind}`);
  return job;
}

/** One uploaded file, sealed as it streams; its length must be what the request declared. */
export async function receiveOutputFile(store: ArtifactStore, jobId: string, kind: OutputDirKind, rel: string, body: AsyncIterable<Buffer>, declared: number): Promise<DirectoryFile> {
  try {
    checkRelativePath(rel);
  } catch (e) {
    throw new DomainError('BAD_REQUEST', `path: ${(e as Error).message}`);
  }
  const file = await storeDirectoryFile(store, outputDirPrefix(jobId, kind), rel, body);
  if (file.size !== declared) {
    await store.delete(file.key).catch(() => undefined);
    throw new DomainError('BAD_REQUEST', `${rel}: received ${file.size} bytes of the ${declared} declared`);
  }
  return file;
}

export const outputIndexSchema = z
  .object({
    attempt: z.number().int().min(1),
    files: z.array(z.object({ path: z.string().min(1).max(1024), key: z.string().min(1).max(512), size: z.number().int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).strict()).max(100_000),
  })
  .strict();

/** The uploaded directory's index, once every listed file is in the store with its size: the directory is whole. */
export async function receiveOutputIndex(store: ArtifactStore, jobId: string, kind: OutputDirKind, files: DirectoryFile[]): Promise<string> {
  try {
    return (await storeDirectoryIndex(store, outputDirPrefix(jobId, kind), files)).key;
  } catch (e) {
    throw new DomainError('BAD_REQUEST', (e as Error).message);
  }
}

