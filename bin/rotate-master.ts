import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { Db } from '../server/db/client';
import type { Env } from '../server/core/env';
import { withAnchorLock } from '../server/security/audit-anchor';
import { auditAnchorFile, stageResignedAnchors } from '../server/security/audit-anchor-file';
import { rotateMasterKey } from '../server/security/encryption';
import { keyFingerprint, type MasterKeySource } from '../server/security/master-key';

/**
 * `enclave keys rotate-master`: a new master key re-wraps every data key in one transaction; messages
 * are not rewritten. A key read from a file (the data directory's or ENCLAVE_MASTER_KEY_FILE) is
 * replaced there after the commit; a key given as a value or by a command is printed before the
 * commit, so it exists somewhere before anything depends on it, for the operator to install. The
 * audit anchors are re-signed under the new key in the same step, under the anchor lock.
 */
export async function rotateMasterKeyCommand(env: Env, db: Db, oldKey: Buffer, from: { source: MasterKeySource; file?: string }): Promise<void> {
  const newKey = randomBytes(32);
  const out = (line: string) => process.stdout.write(line + '\n');
  const keyFile = from.file ? stageKey(from.file, newKey) : undefined;
  if (!keyFile) {
    out(`New master key ${keyFingerprint(newKey)} (in force only once this command reports success):`);
    out(newKey.toString('hex'));
  }
  const result = await withAnchorLock(db, async () => {
    const anchors = stageResignedAnchors(auditAnchorFile(env), oldKey, newKey);
    try {
      const { rewrapped } = await rotateMasterKey(db, oldKey, newKey);
      if (keyFile) fs.renameSync(keyFile.staged, keyFile.file);
      if (anchors) fs.renameSync(anchors.staged, auditAnchorFile(env));
      return { rewrapped, anchors };
    } catch (e) {
      for (const staged of [keyFile?.staged, anchors?.staged]) if (staged) fs.rmSync(staged, { force: true });
      if (!keyFile) process.stderr.write('The rotation failed: the old key stays in force; discard the key printed above.\n');
      throw e;
    }
  });
  if (result === 'busy') throw new Error('unreachable: the lock was awaited');
  out(`Re-wrapped ${result.rewrapped} data key(s) under master key ${keyFingerprint(newKey)}.`);
  if (result.anchors) {
    out(`Re-signed ${result.anchors.resigned} audit checkpoint(s) under it.`);
    if (result.anchors.keptAsIs) {
      out(`${result.anchors.keptAsIs} checkpoint line(s) did not verify under the old key and were kept as they were: \`enclave audit verify\` reports them.`);
    }
  }
  if (keyFile) out(`${keyFile.file} now holds it. Restart every running role soon: until then they keep the data keys they already opened, but cannot open others.`);
  else if (from.file) out(`Write the key printed above into ${from.file} (mode 0600), then restart every role. The old key no longer opens anything.`);
  else if (from.source === 'ENCLAVE_MASTER_KEY_COMMAND') out('Store the key printed above where ENCLAVE_MASTER_KEY_COMMAND reads it, then restart every role. The old key no longer opens anything.');
  else out('Set ENCLAVE_MASTER_KEY to the key printed above for every role, then restart them. The old key no longer opens anything.');
}

/** The new key written beside the old one's file (mode 0600), moved over it once the rotation commits. */
function stageKey(file: string, key: Buffer): { file: string; staged: string } | undefined {
  const staged = `${file}.next`;
  try {
    fs.writeFileSync(staged, key.toString('hex') + '\n', { mode: 0o600 });
    return { file, staged };
  } catch (e) {
    // A read-only mount (a Kubernetes secret): print it instead, for the operator to put there.
    process.stderr.write(`Cannot write beside ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'}): the new key is printed instead.\n`);
    return undefined;
  }
}
