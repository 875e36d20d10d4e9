import type { FinetuneInput, QuantizeInput } from './views';

/**
 * The new-job forms' fields as typed (strings where a person types) and their conversion to the
 * spec jobs.createFinetune / jobs.createQuantize validate. Checked here: what a person can see is
 * wrong while typing; the server's schema stays the authority and its errors land on the same fields.
 */

export const SCHEDULERS = ['cosine', 'linear', 'cosine_with_restarts', 'polynomial', 'constant', 'constant_with_warmup'] as const;

export interface FinetuneForm {
  baseVersionId: string;
  datasetId: string;
  lora_r: string;
  lora_alpha: string;
  lora_dropout: string;
  target_modules: string;
  learning_rate: string;
  epochs: string;
  per_device_batch_size: string;
  gradient_accumulation: string;
  max_seq_length: string;
  warmup_ratio: string;
  scheduler: (typeof SCHEDULERS)[number];
  seed: string;
  gpus: string;
  merge: boolean;
}

// The same lists as server/lifecycle/jobs/quantize-spec.ts, most useful first.
export const GGUF_TARGETS = ['q8_0', 'f16'] as const;
export const HF_TARGETS = ['w8a8-int8', 'fp8-dynamic', 'fp16'] as const;

/** LLaMA-Factory's and PEFT's usual starting point for a LoRA SFT run. */
export function initialFinetuneForm(): FinetuneForm {
  return {
    baseVersionId: '',
    datasetId: '',
    lora_r: '16',
    lora_alpha: '32',
    lora_dropout: '0.05',
    target_modules: 'q_proj, k_proj, v_proj, o_proj',
    learning_rate: '2e-4',
    epochs: '3',
    per_device_batch_size: '4',
    gradient_accumulation: '4',
    max_seq_length: '2048',
    warmup_ratio: '0.03',
    scheduler: 'cosine',
    seed: '42',
    gpus: '1',
    merge: true,
  };
}

export interface QuantizeForm {
  sourceVersionId: string;
  target: string;
  evalDatasetId: string;
  maxPerplexityDeltaPct: string;
}

export function initialQuantizeForm(): QuantizeForm {
  return { sourceVersionId: '', target: '', evalDatasetId: '', maxPerplexityDeltaPct: '5' };
}

/** The targets a source can be quantized to: GGUF files by Enclave's own quantizer, HF checkpoints by llm-compressor. */
export function targetsFor(format: string | undefined): readonly string[] {
  if (format === 'gguf') return GGUF_TARGETS;
  if (format === 'hf') return HF_TARGETS;
  return [];
}

export type FieldErrors = Partial<Record<string, string>>;
export type Built<Spec> = { spec: Spec; errors: null } | { spec: null; errors: FieldErrors };

type Check = { kind: 'int'; min: number; max: number } | { kind: 'number'; min: number; max: number; exclusiveMin?: boolean };

function readNumber(text: string, check: Check): { value: number } | { error: string } {
  const trimmed = text.trim();
  if (!trimmed) return { error: 'required' };
  const value = Number(trimmed);
  if (!Number.isFinite(value)) return { error: 'not a number' };
  if (check.kind === 'int' && !Number.isInteger(value)) return { error: 'a whole number' };
  const low = check.kind === 'number' && check.exclusiveMin ? value <= check.min : value < check.min;
  if (low || value > check.max) {
    const exclusive = check.kind === 'number' && check.exclusiveMin;
    return { error: exclusive ? `above ${check.min}, at most ${check.max}` : `between ${check.min} and ${check.max}` };
  }
  return { value };
}

const FINETUNE_NUMBERS = {
  lora_r: { kind: 'int', min: 1, max: 256 },
  lora_alpha: { kind: 'int', min: 1, max: 1024 },
  lora_dropout: { kind: 'number', min: 0, max: 0.5 },
  learning_rate: { kind: 'number', min: 0, max: 0.01, exclusiveMin: true },
  epochs: { kind: 'number', min: 0, max: 100, exclusiveMin: true },
  per_device_batch_size: { kind: 'int', min: 1, max: 512 },
  gradient_accumulation: { kind: 'int', min: 1, max: 1024 },
  max_seq_length: { kind: 'int', min: 16, max: 131072 },
  warmup_ratio: { kind: 'number', min: 0, max: 0.5 },
  seed: { kind: 'int', min: 0, max: 2 ** 31 - 1 },
  gpus: { kind: 'int', min: 1, max: 8 },
} as const satisfies Partial<Record<keyof FinetuneForm, Check>>;

/** "q_proj, v_proj" → ['q_proj', 'v_proj']; module names are identifiers, maybe dotted. */
export function parseModules(text: string): { modules: string[] } | { error: string } {
  const modules = text.split(/[\s,]+/).filter(Boolean);
  if (modules.length === 0) return { error: 'required' };
  const bad = modules.find((m) => !/^[A-Za-z_][A-Za-z0-9_.-]{0,99}$/.test(m));
  return bad ? { error: `not a module name: ${bad}` } : { modules: [...new Set(modules)] };
}

export function buildFinetuneSpec(form: FinetuneForm): Built<FinetuneInput> {
  const errors: FieldErrors = {};
  if (!form.baseVersionId) errors.baseVersionId = 'required';
  if (!form.datasetId) errors.datasetId = 'required';
  const numbers: Partial<Record<keyof typeof FINETUNE_NUMBERS, number>> = {};
  for (const [field, check] of Object.entries(FINETUNE_NUMBERS) as [keyof typeof FINETUNE_NUMBERS, Check][]) {
    const read = readNumber(form[field], check);
    if ('error' in read) errors[field] = read.error;
    else numbers[field] = read.value;
  }
  const modules = parseModules(form.target_modules);
  if ('error' in modules) errors.target_modules = modules.error;
  if (Object.keys(errors).length || 'error' in modules) return { spec: null, errors };
  const spec = { baseVersionId: form.baseVersionId, datasetId: form.datasetId, ...numbers, target_modules: modules.modules, scheduler: form.scheduler, merge: form.merge };
  return { spec, errors: null };
}

const isTarget = (target: string): target is QuantizeInput['target'] => (GGUF_TARGETS as readonly string[]).includes(target) || (HF_TARGETS as readonly string[]).includes(target);

export function buildQuantizeSpec(form: QuantizeForm, sourceFormat: string | undefined): Built<QuantizeInput> {
  const errors: FieldErrors = {};
  if (!form.sourceVersionId) errors.sourceVersionId = 'required';
  const targets = targetsFor(sourceFormat);
  if (!form.target) errors.target = 'required';
  else if (form.sourceVersionId && !targets.includes(form.target)) errors.target = `not available for a ${sourceFormat ?? 'this'} source`;
  else if (!isTarget(form.target)) errors.target = 'unknown target';
  const limit = readNumber(form.maxPerplexityDeltaPct, { kind: 'number', min: 0, max: 1000 });
  if ('error' in limit) errors.maxPerplexityDeltaPct = limit.error;
  if (Object.keys(errors).length || 'error' in limit || !isTarget(form.target)) return { spec: null, errors };
  // The dataset is optional: without one the server measures on its small bundled held-out text.
  const spec = { sourceVersionId: form.sourceVersionId, target: form.target, ...(form.evalDatasetId ? { evalDatasetId: form.evalDatasetId } : {}), maxPerplexityDeltaPct: limit.value };
  return { spec, errors: null };
}

/**
 * The server's refusal, put next to the field it names: zod issues arrive as a JSON list with paths,
 * domain errors as "field: message". Anything else is a form-level error under the key ''.
 */
export function serverFieldErrors(message: string, fields: readonly string[]): FieldErrors {
  const known = new Set(fields);
  const out: FieldErrors = {};
  const add = (field: string | undefined, text: string) => {
    const key = field && known.has(field) ? field : '';
    out[key] = out[key] ? `${out[key]}; ${text}` : text;
  };
  const trimmed = message.trim();
  if (trimmed.startsWith('[')) {
    try {
      const issues = JSON.parse(trimmed) as Array<{ message?: string; path?: Array<string | number> }>;
      if (Array.isArray(issues) && issues.length) {
        for (const issue of issues) add(typeof issue.path?.[0] === 'string' ? issue.path[0] : undefined, issue.message ?? 'invalid');
        return out;
      }
    } catch {
      // Not JSON after all: fall through to the plain message.
    }
  }
  const named = /^([A-Za-z_][A-Za-z0-9_]*): (.+)$/s.exec(trimmed);
  if (named && known.has(named[1]!)) add(named[1], named[2]!);
  else add(undefined, trimmed);
  return out;
}
