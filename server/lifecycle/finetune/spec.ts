import { z } from 'zod';

/** Module names a LoRA may target: the attention and MLP projections of Llama-family models, or PEFT's "all-linear". */
export const LORA_TARGET_MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj', 'all-linear'] as const;
export const LR_SCHEDULERS = ['linear', 'cosine', 'cosine_with_restarts', 'polynomial', 'constant', 'constant_with_warmup'] as const;

/**
 * A LoRA fine-tune, field for field what jobs/trainers/lora_sft.py takes. Defaults are the trainer's own;
 * limits keep a typo (lora_r 1600, 1e6 epochs) from becoming a job that can never fit or never end.
 */
export const finetuneSpecSchema = z
  .object({
    name: z.string().trim().min(1).max(100).optional(),
    baseVersionId: z.string().uuid(),
    datasetId: z.string().uuid(),
    loraR: z.number().int().min(1).max(256).default(16),
    loraAlpha: z.number().int().min(1).max(1024).default(32),
    loraDropout: z.number().min(0).max(0.5).default(0.05),
    targetModules: z.array(z.enum(LORA_TARGET_MODULES)).min(1).max(LORA_TARGET_MODULES.length).default(['q_proj', 'k_proj', 'v_proj', 'o_proj']),
    learningRate: z.number().gt(0).max(1e-2).default(2e-4),
    epochs: z.number().gt(0).max(100).default(1),
    perDeviceBatchSize: z.number().int().min(1).max(512).default(4),
    gradientAccumulation: z.number().int().min(1).max(1024).default(1),
    maxSeqLength: z.number().int().min(16).max(131_072).default(1024),
    warmupRatio: z.number().min(0).max(0.5).default(0.03),
    scheduler: z.enum(LR_SCHEDULERS).default('cosine'),
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(42),
    /** GPUs wanted on one node (data parallel: each holds the whole model). */
    gpus: z.number().int().min(1).max(8).default(1),
    saveSteps: z.number().int().min(1).max(100_000).default(50),
    /** Also produce a full model with the adapter merged into the base (when the trainer reports one). */
    merge: z.boolean().default(false),
  })
  .strict()
  .refine((s) => !(s.targetModules.includes('all-linear') && s.targetModules.length > 1), {
    message: 'all-linear already covers every projection: give it alone',
    path: ['targetModules'],
  });

export type FinetuneSpecInput = z.input<typeof finetuneSpecSchema>;
export type FinetuneSpec = z.output<typeof finetuneSpecSchema>;
