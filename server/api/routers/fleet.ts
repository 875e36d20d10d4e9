import { fleetSamples, listFleetNodes, samplesSchema } from '../../fleet/view';
import { roleProcedure, router } from '../trpc';

const read = roleProcedure('admin', 'engineer', 'viewer');

export const fleetRouter = router({
  nodes: read.query(({ ctx }) => listFleetNodes(ctx.db)),
  samples: read.input(samplesSchema).query(({ ctx, input }) => fleetSamples(ctx.db, input)),
});
