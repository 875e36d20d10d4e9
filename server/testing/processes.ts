import { execFileSync } from 'node:child_process';

/**
 * A process's children as `ps` sees them, with their command lines: tests that start Enclave as real
 * processes use it to find the workers a role forked (and kill one) or every descendant (and check none
 * outlives the parent).
 */
export function childProcesses(pid: number): { pid: number; args: string }[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((l) => /^\s*(\d+)\s+(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ pid: Number(m[1]), args: m[2]! }));
  } catch {
    return []; // ps exits 1 when there are none
  }
}

/** Every descendant's pid, depth first. */
export function descendantPids(pid: number): number[] {
  return childProcesses(pid).flatMap((c) => [c.pid, ...descendantPids(c.pid)]);
}
