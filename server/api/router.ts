import { auditRouter } from './routers/audit';
import { authRouter } from './routers/auth';
import { catalogRouter } from './routers/catalog';
import { conversationsRouter } from './routers/conversations';
import { deploymentsRouter } from './routers/deployments';
import { fleetRouter } from './routers/fleet';
import { keysRouter } from './routers/keys';
import { modelsRouter } from './routers/models';
import { usersRouter } from './routers/users';
import { datasetsRouter } from './routers/datasets';
import { jobsRouter } from './routers/jobs';
import { loadtestsRouter } from './routers/loadtests';
import { experimentsRouter } from './routers/experiments';
import { arenaRouter } from './routers/arena';
import { monitoringRouter } from './routers/monitoring';
import { router } from './trpc';

export const appRouter = router({
  auth: authRouter,
  models: modelsRouter,
  conversations: conversationsRouter,
  keys: keysRouter,
  users: usersRouter,
  audit: auditRouter,
  catalog: catalogRouter,
  deployments: deploymentsRouter,
  fleet: fleetRouter,
  datasets: datasetsRouter,
  jobs: jobsRouter,
  loadtests: loadtestsRouter,
  experiments: experimentsRouter,
  arena: arenaRouter,
  monitoring: monitoringRouter,
});

export type AppRouter = typeof appRouter;
