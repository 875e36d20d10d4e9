import { z } from 'zod';
import { MAX_PRESET_KNOWLEDGE, Presets } from '../../chat/presets';
import type { Db } from '../../db/client';
import { authedProcedure, router } from '../trpc';

const id = z.string().max(100);
const text = (name: string, min: number, max: number) =>
  z.string({ error: `${name} must be a string` }).min(min, min === 1 ? `${name} is required` : `${name} must be at least ${min} characters`).max(max, `${name} must be at most ${max} characters`);
const optionalNumber = (name: string, min: number, max: number, int = false) => {
  const base = z.number({ error: `${name} must be a number` }).min(min, `${name} must be between ${min} and ${max}`).max(max, `${name} must be between ${min} and ${max}`);
  return (int ? base.int(`${name} must be a whole number`) : base).nullable().default(null);
};

/** What a preset holds; checked here (clear messages) and by the table's own CHECK. */
export const presetValues = z
  .object({
    name: text('name', 1, 100).trim(),
    systemPrompt: text('systemPrompt', 0, 8000),
    model: text('model', 1, 200).nullable().default(null),
    temperature: optionalNumber('temperature', 0, 2),
    topP: optionalNumber('topP', 0.01, 1),
    maxTokens: optionalNumber('maxTokens', 1, 4096, true),
    contextPolicy: z.enum(['summarize', 'trim', 'turns'], { error: "contextPolicy must be 'summarize', 'trim' or 'turns'" }).default('summarize'),
    contextTurns: optionalNumber('contextTurns', 1, 1000, true),
    groupIds: z.array(z.uuid('groupIds: each must be a group id')).max(64, 'groupIds: at most 64 groups').default([]),
    kbIds: z.array(z.uuid('kbIds: each must be a knowledge base id')).max(MAX_PRESET_KNOWLEDGE, `kbIds: at most ${MAX_PRESET_KNOWLEDGE} knowledge bases`).default([]),
  })
  .strict()
  .refine((v) => v.contextPolicy !== 'turns' || v.contextTurns !== null, { message: "contextTurns is required with contextPolicy 'turns'", path: ['contextTurns'] });

const presetsOf = (ctx: { db: Db; masterKey: Buffer; user: { id: string; role: string } }) => new Presets(ctx.db, ctx.masterKey, ctx.user);

/** Presets: a user's own, and those shared with their groups (usable, not editable). */
export const presetsRouter = router({
  list: authedProcedure.query(({ ctx }) => presetsOf(ctx).list()),
  create: authedProcedure.input(presetValues).mutation(({ ctx, input }) => presetsOf(ctx).create(input)),
  update: authedProcedure.input(z.object({ id, values: presetValues })).mutation(async ({ ctx, input }) => {
    await presetsOf(ctx).update(input.id, input.values);
    return { id: input.id };
  }),
  delete: authedProcedure.input(z.object({ id })).mutation(async ({ ctx, input }) => {
    await presetsOf(ctx).delete(input.id);
    return { id: input.id };
  }),
});
