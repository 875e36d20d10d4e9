import { execa } from 'execa';
import type { Env } from '../../core/env';
import { ok, reason, warn, type CheckResult } from './types';

/**
 * The `vllm` executable the agent starts engines with (ENCLAVE_VLLM_BIN, as server/engines/vllm/command.ts
 * runs it), asked for its version. Importing vLLM loads torch: this takes seconds, hence the long timeout.
 * Missing is a warning, not a failure: llama.cpp deployments run without it.
 */
export async function checkVllm(env: Pick<Env, 'ENCLAVE_VLLM_BIN'>, opts: { hasGpus: boolean; timeoutMs?: number }): Promise<CheckResult> {
  const bin = env.ENCLAVE_VLLM_BIN;
  const ran = await execa(bin, ['--version'], { reject: false, timeout: opts.timeoutMs ?? 120_000, stdin: 'ignore' });
  const code = (ran as { code?: string }).code;
  if (code === 'ENOENT') {
    return warn(
      'vllm',
      `vLLM not found (ENCLAVE_VLLM_BIN=${bin})${opts.hasGpus ? ': this GPU host cannot run vLLM deployments' : ''}`,
      'Install vLLM in a Python environment on GPU hosts (pip install vllm, or a wheelhouse offline) and point ENCLAVE_VLLM_BIN at its vllm',
    );
  }
  const out = String(ran.stdout ?? '').trim();
  const version = /(\d+\.\d+[\w.+-]*)\s*$/.exec(out.split('\n').at(-1) ?? '')?.[1];
  if (ran.exitCode !== 0 || !version) {
    return warn('vllm', `${bin} --version failed: ${reason(String(ran.stderr ?? '').trim().split('\n').at(-1) || ran.shortMessage)}`, 'Run it by hand to see why (a broken torch or CUDA install is the usual cause)');
  }
  return ok('vllm', `vLLM ${version} (${bin})`);
}
