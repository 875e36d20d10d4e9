import { router } from '../trpc';

export const datasetsRouter = router({});
