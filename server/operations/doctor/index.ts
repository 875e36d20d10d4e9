import { ConfigError, parseEnv, type Env } from '../../core/env';
import type { RunNvidiaSmi } from '../../gpu/inventory';
import { checkArtifacts } from './artifacts';
import { checkDatabase } from './database';
import { checkDataDir, checkDiskSpace } from './data-dir';
import { checkGpus } from './gpus';
import { checkMasterKey } from './master-key';
import { checkNodeVersion } from './node-version';
import { checkRedis } from './redis';
import { checkTls } from './tls';
import { fail, ok, reason, type CheckResult } from './types';
import { checkVllm } from './vllm';

export { type CheckResult, type CheckStatus } from './types';

export interface DoctorOptions {
  /** nvidia-smi's runner (tests pass none and put a double on PATH, as an operator's PATH would hold the real one). */
  runNvidiaSmi?: RunNvidiaSmi;
  vllmTimeoutMs?: number;
  now?: Date;
}

const strip = ({ count: _count, ...result }: CheckResult & { count: number }): CheckResult => result;

/** A check that throws is a failed check with its reason, never a doctor that stops half-way. */
async function guarded(check: string, run: () => CheckResult | Promise<CheckResult>): Promise<CheckResult> {
  try {
    return await run();
  } catch (e) {
    return fail(check, `the check itself failed: ${reason(e)}`, 'Report this with the output of `enclave doctor --json`');
  }
}

/**
 * Every check `enclave doctor` makes, against the configuration `start` would use, in a fixed order. The
 * configuration is parsed here rather than through env(): a bad variable is the first finding, not a crash.
 * Read-only: it creates no key, no database and no directory.
 */
export async function runDoctor(source: Record<string, string | undefined> = process.env, options: DoctorOptions = {}): Promise<CheckResult[]> {
  const node = checkNodeVersion();
  let env: Env;
  try {
    env = parseEnv(source);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const gpus = await guarded('gpus', async () => strip(await checkGpus(options.runNvidiaSmi)));
    return [node, fail('config', reason(e), 'Fix the variables named above; nothing else can be checked until they parse'), gpus];
  }
  const [database, redis, masterKey, artifacts, gpus] = await Promise.all([
    guarded('database', () => checkDatabase(env)),
    guarded('redis', () => checkRedis(env)),
    guarded('master-key', () => checkMasterKey(env)),
    guarded('artifacts', () => checkArtifacts(env)),
    checkGpus(options.runNvidiaSmi).catch((e) => ({ count: 0, ...fail('gpus', `the check itself failed: ${reason(e)}`, 'Run nvidia-smi by hand') })),
  ]);
  const vllm = await guarded('vllm', () => checkVllm(env, { hasGpus: gpus.count > 0, timeoutMs: options.vllmTimeoutMs }));
  return [
    node,
    ok('config', `environment parses; data directory ${env.dataDir}`),
    await guarded('data-dir', () => checkDataDir(env)),
    await guarded('disk', () => checkDiskSpace(env)),
    database,
    redis,
    masterKey,
    await guarded('tls', () => checkTls(env, options.now)),
    artifacts,
    strip(gpus),
    vllm,
  ];
}

/** Exit status: 1 when anything failed; warnings alone still pass. */
export function doctorExitCode(results: CheckResult[]): number {
  return results.some((r) => r.status === 'fail') ? 1 : 0;
}

/** One line per check, `ok`/`warn`/`FAIL` first, the fix indented under anything not ok. */
export function formatDoctor(results: CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.check.length));
  const lines = results.map((r) => {
    const mark = r.status === 'ok' ? 'ok  ' : r.status === 'warn' ? 'warn' : 'FAIL';
    return `${mark}  ${r.check.padEnd(width)}  ${r.detail}${r.fix ? `\n      ${' '.repeat(width)}  fix: ${r.fix}` : ''}`;
  });
  const failed = results.filter((r) => r.status === 'fail').length;
  const warned = results.filter((r) => r.status === 'warn').length;
  lines.push('', failed ? `${failed} check(s) failed, ${warned} warning(s).` : warned ? `No failures; ${warned} warning(s).` : 'All checks passed.');
  return lines.join('\n') + '\n';
}
