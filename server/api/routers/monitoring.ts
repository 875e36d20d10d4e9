import { router } from '../trpc';

export const monitoringRouter = router({});
