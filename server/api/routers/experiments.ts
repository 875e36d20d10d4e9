import { router } from '../trpc';

export const experimentsRouter = router({});
