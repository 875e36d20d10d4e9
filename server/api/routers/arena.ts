import { router } from '../trpc';

export const arenaRouter = router({});
