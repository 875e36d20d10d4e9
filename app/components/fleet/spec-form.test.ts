import { describe, expect, it } from 'vitest';
import { deploymentSpecSchema } from '../../../server/engines/deployment-spec';
import { buildSpec, FORM_ENGINES, initialSpecForm, isGpuFormEngine, suggestName } from './spec-form';

describe('deployment form → spec', () => {
  it('defaults by format: GGUF on llama.cpp, others on vLLM, and the server schema accepts both', () => {
    for (const format of ['gguf', 'hf', null]) {
      const form = initialSpecForm(format);
      expect(form.engine).toBe(format === 'gguf' ? 'llamacpp' : 'vllm');
      const built = buildSpec(form);
      if (!('spec' in built)) throw new Error('expected a spec');
      const parsed = deploymentSpecSchema.safeParse(built.spec);
      expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
      expect(built.spec.tp).toBeUndefined(); // auto: the planner picks
    }
  });

  it('offers TGI and SGLang as GPU engines (TP and GPU share), and the server schema accepts what the form sends for them', () => {
    expect(FORM_ENGINES.filter(isGpuFormEngine)).toEqual(['vllm', 'tgi', 'sglang']);
    for (const engine of ['tgi', 'sglang'] as const) {
      const built = buildSpec({ ...initialSpecForm('hf'), engine, tp: '2', maxModelLen: '4096', gpuMemoryUtilization: 0.8 });
      if (!('spec' in built)) throw new Error('expected a spec');
      expect(deploymentSpecSchema.parse(built.spec)).toMatchObject({ engine, tp: 2, maxModelLen: 4096, gpuMemoryUtilization: 0.8 });
    }
  });

  it('carries every field a person set, in the server schema shape', () => {
    const form = { ...initialSpecForm('hf'), tp: '4' as const, pp: '2', dtype: 'bfloat16' as const, quantization: 'awq' as const, maxModelLen: '8192', gpuMemoryUtilization: 0.85, replicas: '3', labels: 'zone=a, gpu=h100', adapters: 'sql=/lora/sql' };
    const built = buildSpec(form);
    if (!('spec' in built)) throw new Error('expected a spec');
    const spec = deploymentSpecSchema.parse(built.spec);
    expect(spec).toMatchObject({ engine: 'vllm', tp: 4, pp: 2, dtype: 'bfloat16', quantization: 'awq', maxModelLen: 8192, gpuMemoryUtilization: 0.85, replicas: 3, labels: { zone: 'a', gpu: 'h100' }, loraAdapters: [{ name: 'sql', path: '/lora/sql' }] });
  });

  it('sends llama.cpp settings only for llama.cpp and the upstream URL only for upstream', () => {
    const cpu = buildSpec({ ...initialSpecForm('gguf'), context: '1024', sequences: '2', threads: '' });
    expect('spec' in cpu && cpu.spec.llamacpp).toEqual({ context: 1024, sequences: 2 });
    const up = buildSpec({ ...initialSpecForm('hf'), engine: 'upstream', upstreamUrl: ' https://api.example.test/v1 ', upstreamModel: '' });
    if (!('spec' in up)) throw new Error('expected a spec');
    expect(up.spec.upstream).toEqual({ url: 'https://api.example.test/v1' });
    expect(up.spec.llamacpp).toBeUndefined();
    expect(deploymentSpecSchema.safeParse(up.spec).success).toBe(true);
    // Empty URL: the server schema refuses it, naming the field.
    const empty = buildSpec({ ...initialSpecForm('hf'), engine: 'upstream' });
    expect('spec' in empty && deploymentSpecSchema.safeParse(empty.spec).success).toBe(false);
  });

  it('names the malformed label or adapter instead of sending it', () => {
    expect(buildSpec({ ...initialSpecForm('hf'), labels: 'zone=a, oops' })).toEqual({ problem: { field: 'labels', part: 'oops' } });
    expect(buildSpec({ ...initialSpecForm('hf'), adapters: 'justapath' })).toEqual({ problem: { field: 'adapters', part: 'justapath' } });
  });

  it('suggests a unique, URL-safe name', () => {
    expect(suggestName('Qwen2.5 7B', '1', [])).toBe('Qwen2.5-7B-1');
    expect(suggestName('m', '2', ['m-2', 'm-2-2'])).toBe('m-2-3');
  });
});
