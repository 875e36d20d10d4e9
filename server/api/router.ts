import { auditRouter } from './routers/audit';
import { authRouter } from './routers/auth';
import { catalogRouter } from './routers/catalog';
import { chatRouter } from './routers/chat';
import { audioRouter } from './routers/audio';
import { presetsRouter } from './routers/presets';
import { knowledgeRouter } from './routers/knowledge';
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
import { quotasRouter } from './routers/quotas';
import { usageRouter } from './routers/usage';
import { groupsRouter } from './routers/groups';
import { retentionRouter } from './routers/retention';
import { backupsRouter } from './routers/backups';
import { classificationRouter } from './routers/classification';
import { dataProtectionRouter } from './routers/data-protection';
import { toolsRouter } from './routers/tools';
import { registerProcedures, router } from './trpc';

export const appRouter = router({
  auth: authRouter,
  models: modelsRouter,
  conversations: conversationsRouter,
  presets: presetsRouter,
  knowledge: knowledgeRouter,
  chat: chatRouter,
  audio: audioRouter,
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
  quotas: quotasRouter,
  usage: usageRouter,
  groups: groupsRouter,
  retention: retentionRouter,
  backups: backupsRouter,
  classification: classificationRouter,
  dataProtection: dataProtectionRouter,
  tools: toolsRouter,
});

// The mutation guard reads each input as its procedure does (see trpc.ts).
registerProcedures(appRouter);

export type AppRouter = typeof appRouter;
