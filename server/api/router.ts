import { auditRouter } from './routers/audit';
import { authRouter } from './routers/auth';
import { conversationsRouter } from './routers/conversations';
import { keysRouter } from './routers/keys';
import { modelsRouter } from './routers/models';
import { usersRouter } from './routers/users';
import { router } from './trpc';

export const appRouter = router({
  auth: authRouter,
  models: modelsRouter,
  conversations: conversationsRouter,
  keys: keysRouter,
  users: usersRouter,
  audit: auditRouter,
});

export type AppRouter = typeof appRouter;
