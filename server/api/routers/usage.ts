import { z } from 'zod';
import { checkRange, USAGE_GROUPS, usageByDay, usageCsv, usageOfUser, usageSummary } from '../../operations/usage/report';
import { qualityByModelDay } from '../../operations/usage/quality';
import { authedProcedure, roleProcedure, router } from '../trpc';

const readers = roleProcedure('admin', 'viewer');
const day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a day as YYYY-MM-DD')
  .refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s), 'no such day');
const range = z.strictObject({ from: day, to: day });

/**
 * Usage analytics, read from the daily rollup (usage_daily, rebuilt from request_logs by the maintenance
 * worker every 10 minutes): everyone reads their own; admins and viewers read everyone's, grouped.
 * Ranges are UTC days, at most 366 of them.
 */
export const usageRouter = router({
  /** Failure rate and response times per model and day (the /latency page's charts): no person's data, only models'. */
  quality: roleProcedure('admin', 'engineer', 'viewer')
    .input(range)
    .query(({ ctx, input }) => {
      checkRange(input);
      return qualityByModelDay(ctx.db, input);
    }),

  /** The caller's usage per day and model, and per day (the chart). */
  mine: authedProcedure.input(range).query(async ({ ctx, input }) => {
    checkRange(input);
    const [rows, days] = await Promise.all([usageOfUser(ctx.db, input, ctx.user.id), usageByDay(ctx.db, input, ctx.user.id)]);
    return { rows, days };
  }),

  /** Everyone's usage grouped by user, key, model or day, and per day (the chart). */
  summary: readers.input(range.extend({ groupBy: z.enum(USAGE_GROUPS) })).query(async ({ ctx, input }) => {
    checkRange(input);
    const [rows, days] = await Promise.all([usageSummary(ctx.db, input, input.groupBy), usageByDay(ctx.db, input)]);
    return { rows, days };
  }),

  /** The caller's rows as CSV, for the page to download. */
  mineCsv: authedProcedure.input(range).query(async ({ ctx, input }) => {
    checkRange(input);
    return { filename: `usage-${input.from}-${input.to}.csv`, csv: await usageCsv(ctx.db, input, ctx.user.id) };
  }),

  /** Everyone's rows (day, user, key, model, deployment) as CSV. */
  csv: readers.input(range).query(async ({ ctx, input }) => {
    checkRange(input);
    return { filename: `usage-all-${input.from}-${input.to}.csv`, csv: await usageCsv(ctx.db, input) };
  }),
});
