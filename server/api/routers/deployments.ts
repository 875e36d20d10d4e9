import { z } from 'zod';
import {
  createDeployment,
  createDeploymentSchema,
  deleteDeployment,
  getDeployment,
  listDeployments,
  scaleDeployment,
  startDeployment,
  stopDeployment,
} from '../../lifecycle/deployments';
import { dryRun, dryRunSchema } from '../../gpu/placement/dry-run';
import { estimateForVersion } from '../../gpu/placement/model-config';
import { estimateErrors, listStartMeasurements } from '../../gpu/placement/measurement-views';
import { replicaLogTail } from '../../lifecycle/replica-logs';
import { gatewaySettingsSchema, getGatewaySettings, updateGatewaySettings } from '../../lifecycle/deployment-gateway';
import { roleProcedure, router } from '../trpc';

const read = roleProcedure('admin', 'engineer', 'viewer');
const write = roleProcedure('admin', 'engineer');
const byId = z.object({ id: z.string().uuid() });

export const deploymentsRouter = router({
  list: read.query(({ ctx }) => listDeployments(ctx.db)),
  get: read.input(byId).query(({ ctx, input }) => getDeployment(ctx.db, input.id)),
  dryRun: read.input(dryRunSchema).query(({ ctx, input }) => dryRun(ctx.db, input, (versionId, spec) => estimateForVersion(ctx.db, versionId, spec))),
  /** Predicted vs measured, per replica start of this deployment (vLLM's start-up log). */
  startMeasurements: read.input(byId).query(({ ctx, input }) => listStartMeasurements(ctx.db, input.id)),
  /** The fleet's estimate errors: each model, dtype, TP and GPU type's latest start, predicted vs measured. */
  estimateErrors: read.query(({ ctx }) => estimateErrors(ctx.db)),
  logs: read
    .input(z.object({ replicaId: z.string().uuid(), tail: z.number().int().min(1).max(5_000).optional() }))
    .query(({ ctx, input }) => replicaLogTail(ctx.db, input.replicaId, input.tail)),
  /** Cache, timeouts, retry budget, fallbacks, and each replica's breaker state (set aside / probing). */
  gateway: read.input(byId).query(({ ctx, input }) => getGatewaySettings(ctx.db, input.id)),
  setGateway: write.input(gatewaySettingsSchema).mutation(({ ctx, input }) => updateGatewaySettings(ctx.db, ctx.user, input)),
  create: write.input(createDeploymentSchema).mutation(({ ctx, input }) => createDeployment(ctx.db, ctx.user, input, { masterKey: ctx.masterKey })),
  scale: write
    .input(byId.extend({ replicas: z.number().int().min(0).max(64) }))
    .mutation(async ({ ctx, input }) => {
      await scaleDeployment(ctx.db, ctx.user, input.id, input.replicas);
      return { id: input.id };
    }),
  stop: write.input(byId).mutation(async ({ ctx, input }) => {
    await stopDeployment(ctx.db, ctx.user, input.id);
    return { id: input.id };
  }),
  start: write.input(byId).mutation(async ({ ctx, input }) => {
    await startDeployment(ctx.db, ctx.user, input.id);
    return { id: input.id };
  }),
  delete: write.input(byId).mutation(async ({ ctx, input }) => {
    await deleteDeployment(ctx.db, ctx.user, input.id);
    return { id: input.id };
  }),
});
