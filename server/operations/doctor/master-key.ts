import fs from 'node:fs';
import { loadMasterKey, masterKeyFile, type MasterKeyEnv } from '../../security/master-key';
import { fail, ok, reason, warn, type CheckResult } from './types';

const ELSEWHERE = 'Keep it off the data directory: ENCLAVE_MASTER_KEY_FILE (a file on other storage, mode 0600) or ENCLAVE_MASTER_KEY_COMMAND (Vault, a KMS)';

/**
 * Where the master key comes from and whether `start` can load it: the same loader, never creating a key
 * (the doctor changes nothing) and never printing one. A key command is run, as `start` would run it.
 */
export async function checkMasterKey(env: MasterKeyEnv): Promise<CheckResult> {
  const configured = env.ENCLAVE_MASTER_KEY !== undefined || env.ENCLAVE_MASTER_KEY_FILE !== undefined || env.ENCLAVE_MASTER_KEY_COMMAND !== undefined;
  if (!configured && !fs.existsSync(masterKeyFile(env))) {
    return warn('master-key', `none yet: the first start generates ${masterKeyFile(env)}, inside the data directory`, ELSEWHERE);
  }
  try {
    const loaded = await loadMasterKey(env, { create: false });
    const where = loaded.file ? `${loaded.source} (${loaded.file}, mode 0600)` : loaded.source;
    if (loaded.warnings.length) return warn('master-key', `from ${where}: a copy of the data directory carries it`, ELSEWHERE);
    return ok('master-key', `from ${where}`);
  } catch (e) {
    return fail('master-key', reason(e), 'Fix the key source named above: one of ENCLAVE_MASTER_KEY, _FILE or _COMMAND, 32 bytes as hex or base64, a file readable by its owner only');
  }
}
