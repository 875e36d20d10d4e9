import { z } from 'zod';

const tokens = z.number().int().min(1).max(32_768);
const ms = z.number().positive().max(3_600_000);

export const workloadSchema = z.discriminatedUnion('kind', [
  /** Random lengths: uniform in mean·(1 ± rangeRatio), as vLLM's random dataset. */
  z.object({ kind: z.literal('random'), inputTokens: tokens, outputTokens: tokens, rangeRatio: z.number().min(0).max(1).default(0) }),
  /** An uploaded prompt list, used in order and repeated as needed. */
  z.object({
    kind: z.literal('prompts'),
    prompts: z.array(z.string().min(1).max(200_000)).min(1).max(10_000),
    outputTokens: tokens,
  }),
  /** Recorded traffic shapes from request_logs: prompt/completion token counts and the gaps between requests. */
  z.object({
    kind: z.literal('replay'),
    model: z.string().trim().min(1).max(200).optional(),
    hours: z.number().min(1).max(24 * 30).default(24),
    /** 2 replays twice as fast as recorded. */
    speed: z.number().min(0.01).max(1000).default(1),
  }),
]);

export const loadTestSpecSchema = z
  .object({
    mode: z.enum(['concurrency', 'rate', 'sweep']),
    /** Concurrency mode: in flight at once. Sweep: the throughput stage's concurrency. */
    concurrency: z.number().int().min(1).max(5_000).default(1),
    /** Requests per second (rate mode). */
    rate: z.number().positive().max(10_000).optional(),
    /** Gamma shape of the gaps: 1 = Poisson, below 1 burstier, above 1 steadier. */
    burstiness: z.number().min(0.05).max(100).default(1),
    /** Measured requests (per stage in a sweep). */
    requests: z.number().int().min(1).max(20_000),
    /** Sent first and never measured. */
    warmup: z.number().int().min(0).max(1_000).default(0),
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(1),
    api: z.enum(['chat', 'completions']).default('chat'),
    /** vLLM's ignore_eos, so every reply has exactly its output length. */
    ignoreEos: z.boolean().default(false),
    timeoutMs: z.number().int().min(1_000).max(600_000).default(120_000),
    workload: workloadSchema,
    objectives: z.object({ ttftMs: ms.optional(), tpotMs: ms.optional(), e2eMs: ms.optional() }).default({}),
    sweep: z
      .object({
        /** Rates tried between the synchronous and the throughput stage. */
        stages: z.number().int().min(1).max(20).default(4),
        /** A stage breaks the objectives when fewer than this share of its requests meet them. */
        goodFraction: z.number().min(0).max(1).default(0.9),
      })
      .default({ stages: 4, goodFraction: 0.9 }),
    /** Worker threads generating load; default from the concurrency. */
    shards: z.number().int().min(1).max(64).optional(),
  })
  .superRefine((s, ctx) => {
    if (s.mode === 'rate' && s.rate === undefined && s.workload.kind !== 'replay')
      ctx.addIssue({ code: 'custom', path: ['rate'], message: 'rate mode needs a rate (requests per second)' });
    if (s.mode === 'sweep' && !s.objectives.ttftMs && !s.objectives.tpotMs && !s.objectives.e2eMs)
      ctx.addIssue({ code: 'custom', path: ['objectives'], message: 'a sweep needs at least one latency objective to stop at' });
    const stages = s.mode === 'sweep' ? s.sweep.stages + 2 : 1;
    if (stages * s.requests > 50_000) ctx.addIssue({ code: 'custom', path: ['requests'], message: 'at most 50,000 requests in one run, all stages together' });
    if (s.workload.kind === 'prompts' && s.workload.prompts.reduce((n, p) => n + p.length, 0) > 8_000_000)
      ctx.addIssue({ code: 'custom', path: ['workload', 'prompts'], message: 'the prompt set must be at most 8 MB of text' });
  });

export type LoadTestSpec = z.infer<typeof loadTestSpecSchema>;
export type LoadTestSpecInput = z.input<typeof loadTestSpecSchema>;
export type Workload = z.infer<typeof workloadSchema>;
