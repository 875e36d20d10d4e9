// Type-only: the spec's schema stays on the server; the form builds its input shape.
import type { z } from 'zod';
import type { deploymentSpecSchema } from '../../../server/engines/deployment-spec';
import { parseAdapters, parseLabels } from './format';

export type DeploymentSpecInput = z.input<typeof deploymentSpecSchema>;

/** The deployment form's fields as typed (strings where a person types); turned into a spec by buildSpec. */
export interface SpecFormState {
  engine: 'vllm' | 'tgi' | 'sglang' | 'llamacpp' | 'upstream';
  tp: 'auto' | '1' | '2' | '4' | '8';
  pp: string;
  dtype: 'auto' | 'float16' | 'bfloat16' | 'float32';
  quantization: '' | 'fp8' | 'int8' | 'awq' | 'gptq' | 'bitsandbytes' | 'compressed-tensors' | 'q8_0' | 'f16';
  maxModelLen: string;
  gpuMemoryUtilization: number;
  replicas: string;
  labels: string;
  adapters: string;
  upstreamUrl: string;
  upstreamModel: string;
  context: string;
  sequences: string;
  threads: string;
}

export const DTYPES = ['auto', 'float16', 'bfloat16', 'float32'] as const;
export const QUANTIZATIONS = ['fp8', 'int8', 'awq', 'gptq', 'bitsandbytes', 'compressed-tensors', 'q8_0', 'f16'] as const;
export const TP_CHOICES = ['auto', '1', '2', '4', '8'] as const;
/** Engines the form offers, GPU engines first; the GPU ones take TP, PP and a GPU memory share. */
export const FORM_ENGINES = ['vllm', 'tgi', 'sglang', 'llamacpp', 'upstream'] as const;
export const isGpuFormEngine = (engine: SpecFormState['engine']) => engine === 'vllm' || engine === 'tgi' || engine === 'sglang';

export function initialSpecForm(format?: string | null): SpecFormState {
  return {
    // GGUF files run on the built-in CPU engine; Hugging Face checkpoints and adapters on vLLM.
    engine: format === 'gguf' ? 'llamacpp' : 'vllm',
    tp: 'auto',
    pp: '1',
    dtype: 'auto',
    quantization: '',
    maxModelLen: '',
    gpuMemoryUtilization: 0.9,
    replicas: '1',
    labels: '',
    adapters: '',
    upstreamUrl: '',
    upstreamModel: '',
    context: '',
    sequences: '',
    threads: '',
  };
}

export type SpecProblem = { field: 'labels' | 'adapters'; part: string };

/** An integer typed in a field, or undefined when empty or not a whole number (the server names range errors). */
function intOrUndefined(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) return undefined;
  return Number(trimmed);
}

/**
 * The spec the server validates (server/lifecycle/deployment-spec.ts). Only what a person can get
 * wrong in free text is checked here; ranges are the server's job and come back as field errors.
 */
export function buildSpec(form: SpecFormState): { spec: DeploymentSpecInput } | { problem: SpecProblem } {
  const labels = parseLabels(form.labels);
  if ('error' in labels) return { problem: { field: 'labels', part: labels.error } };
  const adapters = parseAdapters(form.adapters);
  if ('error' in adapters) return { problem: { field: 'adapters', part: adapters.error } };
  const spec: DeploymentSpecInput = {
    engine: form.engine,
    pp: intOrUndefined(form.pp) ?? 1,
    dtype: form.dtype,
    quantization: form.quantization || null,
    gpuMemoryUtilization: form.gpuMemoryUtilization,
    loraAdapters: adapters.adapters,
    replicas: intOrUndefined(form.replicas) ?? 1,
    labels: labels.labels,
  };
  if (form.tp !== 'auto') spec.tp = Number(form.tp);
  const maxModelLen = intOrUndefined(form.maxModelLen);
  if (maxModelLen !== undefined) spec.maxModelLen = maxModelLen;
  if (form.engine === 'llamacpp') {
    const llamacpp: Record<string, number> = {};
    for (const key of ['context', 'sequences', 'threads'] as const) {
      const value = intOrUndefined(form[key]);
      if (value !== undefined) llamacpp[key] = value;
    }
    spec.llamacpp = llamacpp;
  }
  if (form.engine === 'upstream') {
    spec.upstream = { url: form.upstreamUrl.trim(), ...(form.upstreamModel.trim() ? { model: form.upstreamModel.trim() } : {}) };
  }
  return { spec };
}

/** A deployment name suggested from the model and version: what clients will pass as `model`. */
export function suggestName(modelName: string, version: string, existing: string[]): string {
  const base = `${modelName}-${version}`.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'deployment';
  if (!existing.includes(base)) return base;
  for (let i = 2; ; i++) if (!existing.includes(`${base}-${i}`)) return `${base}-${i}`;
}
