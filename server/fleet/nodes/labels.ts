import type { Env } from '../../core/env';

/** ENCLAVE_NODE_LABELS ("zone=a,gpu=a100") as a label map; validated by the env schema. */
export function nodeLabels(env: Pick<Env, 'ENCLAVE_NODE_LABELS'>): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of (env.ENCLAVE_NODE_LABELS ?? '').split(',').filter(Boolean)) {
    const [key, value] = pair.split('=');
    labels[key!.trim()] = (value ?? '').trim();
  }
  return labels;
}
