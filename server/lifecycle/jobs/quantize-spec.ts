import { z } from 'zod';

/** GGUF targets run in the worker with Enclave's own quantizer; HF targets run trainers/quantize.py on a GPU. */
export const GGUF_TARGETS = ['f16', 'q8_0'] as const;
export const HF_TARGETS = ['fp16', 'w8a8-int8', 'fp8-dynamic'] as const;
export type QuantizeTarget = (typeof GGUF_TARGETS)[number] | (typeof HF_TARGETS)[number];

export const isGgufTarget = (t: string): t is (typeof GGUF_TARGETS)[number] => (GGUF_TARGETS as readonly string[]).includes(t);

/** maxPerplexityDeltaPct defaults to ENCLAVE_QUALITY_GATE_MAX_DELTA_PCT, filled in by the service. */
export const quantizeSpecSchema = z
  .object({
    name: z.string().trim().min(1).max(100).optional(),
    sourceVersionId: z.string().uuid(),
    target: z.enum([...GGUF_TARGETS, ...HF_TARGETS]),
    /** Held-out text for perplexity; without it a small bundled English text is used (see quality-text.ts). */
    evalDatasetId: z.string().uuid().optional(),
    maxPerplexityDeltaPct: z.number().min(0).max(1000).optional(),
  })
  .strict();

export type QuantizeSpecInput = z.input<typeof quantizeSpecSchema>;
export type QuantizeSpec = z.output<typeof quantizeSpecSchema> & { maxPerplexityDeltaPct: number };
