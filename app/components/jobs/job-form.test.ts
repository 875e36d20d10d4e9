import { describe, expect, it } from 'vitest';
import { finetuneSpecSchema } from '../../../server/lifecycle/finetune/spec';
import { quantizeSpecSchema } from '../../../server/lifecycle/jobs/quantize-spec';
import { buildFinetuneSpec, buildQuantizeSpec, initialFinetuneForm, initialQuantizeForm, parseModules, serverFieldErrors, targetsFor } from './job-form';

const BASE = '11111111-1111-4111-8111-111111111111';
const DATA = '22222222-2222-4222-8222-222222222222';

describe('fine-tune form → spec', () => {
  it('turns the defaults into numbers and lists once a base and a dataset are chosen', () => {
    const built = buildFinetuneSpec({ ...initialFinetuneForm(), baseVersionId: BASE, datasetId: DATA });
    expect(built.errors).toBeNull();
    expect(built.spec).toEqual({
      baseVersionId: BASE,
      datasetId: DATA,
      lora_r: 16,
      lora_alpha: 32,
      lora_dropout: 0.05,
      target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'],
      learning_rate: 0.0002,
      epochs: 3,
      per_device_batch_size: 4,
      gradient_accumulation: 4,
      max_seq_length: 2048,
      warmup_ratio: 0.03,
      scheduler: 'cosine',
      seed: 42,
      gpus: 1,
      merge: true,
    });
    // The server's own schema (strict: no unknown keys) accepts what the form sends.
    const parsed = finetuneSpecSchema.safeParse(built.spec);
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
  });

  it('names each wrong field with the reason, and sends nothing', () => {
    const built = buildFinetuneSpec({ ...initialFinetuneForm(), lora_r: '8.5', learning_rate: '0', epochs: 'three', gpus: '', target_modules: 'q_proj, 1bad' });
    expect(built.spec).toBeNull();
    expect(built.errors).toEqual({
      baseVersionId: 'required',
      datasetId: 'required',
      lora_r: 'a whole number',
      learning_rate: 'above 0, at most 0.01',
      epochs: 'not a number',
      gpus: 'required',
      target_modules: 'not a module name: 1bad',
    });
  });

  it('reads module lists with commas or spaces, once each', () => {
    expect(parseModules('q_proj,v_proj  q_proj\nmlp.down_proj')).toEqual({ modules: ['q_proj', 'v_proj', 'mlp.down_proj'] });
    expect(parseModules(' , ')).toEqual({ error: 'required' });
  });
});

describe('quantization form → spec', () => {
  it('offers the targets of the source format only', () => {
    expect(targetsFor('gguf')).toEqual(['q8_0', 'f16']);
    expect(targetsFor('hf')).toEqual(['w8a8-int8', 'fp8-dynamic', 'fp16']);
    expect(targetsFor('lora-adapter')).toEqual([]);
  });

  it('builds a GGUF q8_0 spec with its perplexity limit', () => {
    const built = buildQuantizeSpec({ sourceVersionId: BASE, target: 'q8_0', evalDatasetId: DATA, maxPerplexityDeltaPct: '2.5' }, 'gguf');
    expect(built).toEqual({ spec: { sourceVersionId: BASE, target: 'q8_0', evalDatasetId: DATA, maxPerplexityDeltaPct: 2.5 }, errors: null });
    expect(quantizeSpecSchema.safeParse(built.spec).success).toBe(true);
  });

  it('leaves the held-out dataset out when none is chosen (the server has a bundled text)', () => {
    const built = buildQuantizeSpec({ ...initialQuantizeForm(), sourceVersionId: BASE, target: 'f16' }, 'gguf');
    expect(built).toEqual({ spec: { sourceVersionId: BASE, target: 'f16', maxPerplexityDeltaPct: 5 }, errors: null });
    expect(quantizeSpecSchema.safeParse(built.spec).success).toBe(true);
  });

  it('refuses an HF target for a GGUF source and a negative limit', () => {
    const built = buildQuantizeSpec({ ...initialQuantizeForm(), sourceVersionId: BASE, target: 'fp8-dynamic', evalDatasetId: DATA, maxPerplexityDeltaPct: '-1' }, 'gguf');
    expect(built.errors).toEqual({ target: 'not available for a gguf source', maxPerplexityDeltaPct: 'between 0 and 1000' });
  });
});

describe('server errors next to their fields', () => {
  const fields = ['learning_rate', 'datasetId'];
  it('maps zod issues by their first path element; unknown paths go to the form', () => {
    const message = JSON.stringify([
      { path: ['learning_rate'], message: 'Too big' },
      { path: ['datasetId'], message: 'Invalid uuid' },
      { path: ['other'], message: 'Nope' },
    ]);
    expect(serverFieldErrors(message, fields)).toEqual({ learning_rate: 'Too big', datasetId: 'Invalid uuid', '': 'Nope' });
  });

  it('maps "field: message" domain errors, and keeps anything else whole', () => {
    expect(serverFieldErrors('datasetId: dataset not found', fields)).toEqual({ datasetId: 'dataset not found' });
    expect(serverFieldErrors('no GPU can hold 80 GiB', fields)).toEqual({ '': 'no GPU can hold 80 GiB' });
    expect(serverFieldErrors('[not json', fields)).toEqual({ '': '[not json' });
  });
});
