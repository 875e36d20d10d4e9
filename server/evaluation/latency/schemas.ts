import { z } from 'zod';

export const LATENCY_METRICS = ['ttft', 'itl', 'tpot', 'e2e', 'overhead'] as const;
export type LatencyMetric = (typeof LATENCY_METRICS)[number];

export const latencyScopeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('deployment'), id: z.string().uuid() }),
  z.object({ kind: z.literal('model'), name: z.string().min(1).max(256) }),
  /** One series per variant. */
  z.object({ kind: z.literal('experiment'), id: z.string().uuid() }),
  z.object({ kind: z.literal('variant'), id: z.string().uuid() }),
  z.object({ kind: z.literal('loadTest'), id: z.string().uuid() }),
]);
export type LatencyScope = z.infer<typeof latencyScopeSchema>;

export const latencyQuerySchema = z.object({
  scope: latencyScopeSchema,
  /** The last `hours` of request logs (load tests: the whole run). */
  hours: z.number().positive().max(24 * 366).default(24),
  metric: z.enum(LATENCY_METRICS),
});
export type LatencyQuery = z.input<typeof latencyQuerySchema>;
