import { z } from 'zod';
import { gpuSeries, gpuSeriesInput } from '../../gpu/telemetry';
import {
  createRule,
  createWebhook,
  deleteRule,
  deleteWebhook,
  firingCount,
  listAlerts,
  listRules,
  listWebhooks,
  ruleInput,
  ruleUpdate,
  sendTestWebhook,
  updateRule,
  updateWebhook,
  webhookInput,
  webhookUpdate,
} from '../../operations/alerts';
import { roleProcedure, router } from '../trpc';

// Viewers read the fleet, so they see its charts and alerts; engineers also read the rules; only admins change them.
const read = roleProcedure('admin', 'engineer', 'viewer');
const engineer = roleProcedure('admin', 'engineer');
const admin = roleProcedure('admin');
const byId = z.object({ id: z.string().uuid() });

export const monitoringRouter = router({
  gpuSeries: read.input(gpuSeriesInput).query(({ ctx, input }) => gpuSeries(ctx.db, input)),
  alerts: read.query(({ ctx }) => listAlerts(ctx.db)),
  firingCount: read.query(({ ctx }) => firingCount(ctx.db)),
  rules: engineer.query(({ ctx }) => listRules(ctx.db)),
  createRule: admin.input(ruleInput).mutation(({ ctx, input }) => createRule(ctx.db, input, ctx.user.id)),
  updateRule: admin.input(ruleUpdate).mutation(({ ctx, input }) => updateRule(ctx.db, input)),
  deleteRule: admin.input(byId).mutation(({ ctx, input }) => deleteRule(ctx.db, input.id)),
  webhooks: engineer.query(({ ctx }) => listWebhooks(ctx.db, ctx.masterKey)),
  createWebhook: admin.input(webhookInput).mutation(({ ctx, input }) => createWebhook(ctx.db, ctx.masterKey, input)),
  updateWebhook: admin.input(webhookUpdate).mutation(({ ctx, input }) => updateWebhook(ctx.db, ctx.masterKey, input)),
  deleteWebhook: admin.input(byId).mutation(({ ctx, input }) => deleteWebhook(ctx.db, input.id)),
  testWebhook: admin.input(byId).mutation(({ ctx, input }) => sendTestWebhook(ctx.db, ctx.masterKey, input.id)),
});
