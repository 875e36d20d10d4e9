import { z } from 'zod';

/** Module names a LoRA may target: the attention and MLP projections of Llama-family models, or PEFT's "all-linear". */
/** PEFT's shorthand for every linear layer but the output head. */
export const ALL_LINEAR = 'all-linear';
export const LR_SCHEDULERS = ['linear', 'cosine', 'cosine_with_restarts', 'polynomial', 'constant', 'constant_with_warmup'] as const;

/**
 * A LoRA fine-tune, named as trainers/lora_sft.py's flags are (lora_r is --lora-r). Defaults are
 * the trainer's own; limits keep a typo (lora_r 1600, 1e6 epochs) from becoming a job that can never
 * fit or never end.
 */
export const finetuneSpecSchema = z
  .object({
    name: z.string().trim().min(1).max(100).optional(),
    baseVersionId: z.string().uuid(),
    datasetId: z.string().uuid(),
    lora_r: z.number().int().min(1).max(256).default(16),
    lora_alpha: z.number().int().min(1).max(1024).default(32),
    lora_dropout: z.number().min(0).max(0.5).default(0.05),
    // Module names as PEFT matches them (q_proj, gate_proj, model.layers.0.mlp...), or all-linear alone.
    target_modules: z
      .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,99}$/, 'a module name such as q_proj'))
      .min(1)
      .max(64)
      .default(['q_proj', 'k_proj', 'v_proj', 'o_proj']),
    learning_rate: z.number().gt(0).max(1e-2).default(2e-4),
    epochs: z.number().gt(0).max(100).default(1),
    per_device_batch_size: z.number().int().min(1).max(512).default(4),
    gradient_accumulation: z.number().int().min(1).max(1024).default(1),
    max_seq_length: z.number().int().min(16).max(131_072).default(1024),
    warmup_ratio: z.number().min(0).max(0.5).default(0.03),
    scheduler: z.enum(LR_SCHEDULERS).default('cosine'),
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(42),
    /** GPUs wanted on one node (data parallel: each holds the whole model). */
    gpus: z.number().int().min(1).max(8).default(1),
    save_steps: z.number().int().min(1).max(100_000).default(50),
    /** Also produce a full model with the adapter merged into the base (when the trainer reports one). */
    merge: z.boolean().default(false),
  })
  .strict()
  .refine((s) => !(s.target_modules.includes(ALL_LINEAR) && s.target_modules.length > 1), {
    message: 'all-linear already covers every projection: give it alone',
    path: ['target_modules'],
  });

export type FinetuneSpecInput = z.input<typeof finetuneSpecSchema>;
export type FinetuneSpec = z.output<typeof finetuneSpecSchema>;
