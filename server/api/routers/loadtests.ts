import { router } from '../trpc';

export const loadtestsRouter = router({});
