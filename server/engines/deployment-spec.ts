import { z } from 'zod';
import { ENGINES } from '../db/schema';
import { upstreamBaseUrl } from './upstream/base-url';
import { outboundUrl } from '../security/outbound/url';

/**
 * What an engineer asks for when deploying: the one schema the form, the API, the reconciler and the
 * engines share. Stored as `deployments.spec` (JSONB) beside the deployment's name and engine.
 */
export const loraAdapterSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, dot, dash, underscore; up to 64'),
  path: z.string().min(1).max(1024),
});

/** The schema with a given check of upstream.url: strict when saving, lenient when reading a stored row. */
function specSchema(upstreamUrl: z.ZodType<string, string>) {
  return z
    .object({
      engine: z.enum(ENGINES),
      /** Tensor parallel size; omitted: the planner picks the smallest that fits. */
      tp: z.number().int().min(1).max(64).optional(),
      pp: z.number().int().min(1).max(64).default(1),
      dtype: z.enum(['auto', 'float16', 'bfloat16', 'float32']).default('auto'),
      quantization: z.enum(['fp8', 'int8', 'awq', 'gptq', 'bitsandbytes', 'compressed-tensors', 'q8_0', 'f16']).nullable().default(null),
      maxModelLen: z.number().int().min(16).max(1_048_576).optional(),
      gpuMemoryUtilization: z.number().gt(0).max(1).default(0.9),
      loraAdapters: z.array(loraAdapterSchema).max(64).default([]),
      replicas: z.number().int().min(0).max(64).default(1),
      /** Node labels a replica's node must carry, e.g. { zone: "a" }. */
      labels: z.record(z.string(), z.string()).default({}),
      /** Built-in CPU engine settings. */
      llamacpp: z
        .object({ threads: z.number().int().min(1).max(256).optional(), context: z.number().int().min(256).optional(), sequences: z.number().int().min(1).max(256).optional() })
        .optional(),
      /** External OpenAI-compatible endpoint (engine `upstream`): no process, a URL and a key. */
      upstream: z
        .object({
          url: upstreamUrl,
          /** The model name the upstream expects; defaults to the deployment's name. */
          model: z.string().min(1).max(256).optional(),
        })
        .optional(),
      /** Extra engine flags, validated by the engine (vLLM: `--flag value` pairs). */
      extraArgs: z.array(z.string().max(512)).max(64).default([]),
    })
    .superRefine((s, ctx) => {
      if (s.engine === 'upstream' && !s.upstream) ctx.addIssue({ code: 'custom', path: ['upstream'], message: 'an upstream deployment needs upstream.url' });
    });
}

/** What the API accepts: an upstream URL must pass the outbound policy, and is stored as its base (see upstreamBaseUrl). */
export const deploymentSpecSchema = specSchema(outboundUrl({ credentials: false, query: false }).transform(upstreamBaseUrl));

/**
 * A stored spec, read without the policy: a row saved before it (or before an allow-list entry was
 * removed) must still reconcile, stop and scale; every call to its URL is checked at connect time anyway.
 */
export const storedDeploymentSpecSchema = specSchema(z.string().url().transform(upstreamBaseUrl));

export type DeploymentSpec = z.infer<typeof deploymentSpecSchema>;

