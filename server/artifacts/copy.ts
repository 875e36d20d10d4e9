import { ArtifactError, type ArtifactBackend } from './backend';
import { checkKey } from './keys';

export interface CopyResult {
  copied: number;
  /** Already in the target with the same size. */
  skipped: number;
  bytes: number;
}

/**
 * Copies the objects under `prefix` from one store to another as the bytes they are: both backends hold the
 * same sealed format, so nothing is decrypted or re-sealed and no key is needed (moving the data directory's
 * datasets into S3 before switching ENCLAVE_ARTIFACTS). An object the target already holds with the same size
 * is skipped, so a copy that stopped half way can be run again; each copy is checked by its size afterwards.
 */
export async function copyArtifacts(from: ArtifactBackend, to: ArtifactBackend, prefix: string, onObject?: (key: string) => void): Promise<CopyResult> {
  const result: CopyResult = { copied: 0, skipped: 0, bytes: 0 };
  for await (const object of from.list(prefix)) {
    try {
      checkKey(object.key);
    } catch {
      continue;
    }
    const there = await to.head(object.key);
    if (there && there.bytes === object.bytes) {
      result.skipped++;
      continue;
    }
    onObject?.(object.key);
    await to.write(object.key, await from.read(object.key));
    const copied = await to.head(object.key);
    if (copied?.bytes !== object.bytes) throw new ArtifactError('FAILED', `Copying ${object.key} to ${to.where} left ${copied?.bytes ?? 0} of ${object.bytes} bytes`);
    result.copied++;
    result.bytes += object.bytes;
  }
  return result;
}
