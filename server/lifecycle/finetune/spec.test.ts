import { expect, it } from 'vitest';
import { quantizeSpecSchema } from '../jobs/quantize-spec';
import { finetuneSpecSchema } from './spec';

const ids = { baseVersionId: '00000000-0000-4000-8000-000000000001', datasetId: '00000000-0000-4000-8000-000000000002' };
const issues = (r: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) => r.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);

it('fills the trainer defaults for a fine-tune', () => {
  expect(finetuneSpecSchema.parse(ids)).toEqual({
    ...ids,
    lora_r: 16,
    lora_alpha: 32,
    lora_dropout: 0.05,
    target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'],
    learning_rate: 2e-4,
    epochs: 1,
    per_device_batch_size: 4,
    gradient_accumulation: 1,
    max_seq_length: 1024,
    warmup_ratio: 0.03,
    scheduler: 'cosine',
    seed: 42,
    gpus: 1,
    save_steps: 50,
    merge: false,
  });
});

it('refuses values no run should have, naming the field', () => {
  expect(issues(finetuneSpecSchema.safeParse({ ...ids, lora_r: 0 }))).toEqual(['lora_r: Too small: expected number to be >=1']);
  expect(issues(finetuneSpecSchema.safeParse({ ...ids, learning_rate: 0 }))).toEqual(['learning_rate: Too small: expected number to be >0']);
  expect(issues(finetuneSpecSchema.safeParse({ ...ids, epochs: 1e6 }))?.[0]).toMatch(/^epochs: /);
  expect(issues(finetuneSpecSchema.safeParse({ ...ids, per_device_batch_size: 2.5 }))?.[0]).toMatch(/^per_device_batch_size: /);
  expect(issues(finetuneSpecSchema.safeParse({ ...ids, scheduler: 'warp' }))?.[0]).toMatch(/^scheduler: /);
  expect(issues(finetuneSpecSchema.safeParse({ ...ids, gpus: 9 }))?.[0]).toMatch(/^gpus: /);
  expect(issues(finetuneSpecSchema.safeParse({ ...ids, baseVersionId: '../etc' }))?.[0]).toMatch(/^baseVersionId: /);
  // Module names reach the trainer's argv: nothing that is not an identifier.
  expect(issues(finetuneSpecSchema.safeParse({ ...ids, target_modules: ['q_proj --rm'] }))?.[0]).toMatch(/^target_modules.0: a module name/);
  expect(issues(finetuneSpecSchema.safeParse({ ...ids, target_modules: ['all-linear', 'q_proj'] }))).toEqual(['target_modules: all-linear already covers every projection: give it alone']);
  expect(finetuneSpecSchema.safeParse({ ...ids, extra: 1 }).success).toBe(false);
});

it('validates a quantization spec; the gate limit stays unset for the service to fill from configuration', () => {
  const id = '00000000-0000-4000-8000-000000000003';
  expect(quantizeSpecSchema.parse({ sourceVersionId: id, target: 'q8_0' })).toEqual({ sourceVersionId: id, target: 'q8_0' });
  expect(quantizeSpecSchema.safeParse({ sourceVersionId: id, target: 'q4_k' }).success).toBe(false);
  expect(quantizeSpecSchema.safeParse({ sourceVersionId: id, target: 'fp16', maxPerplexityDeltaPct: -1 }).success).toBe(false);
  expect(quantizeSpecSchema.safeParse({ sourceVersionId: id, target: 'fp8-dynamic', evalDatasetId: 'x' }).success).toBe(false);
});
