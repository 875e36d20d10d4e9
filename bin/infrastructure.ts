import { env } from '../server/core/env';
import { prepareInfrastructure, type Infrastructure } from '../server/services/infrastructure';

/**
 * Runs an admin task against the same database as `start` (the embedded one when it is in use). The
 * start-up warnings are left to the roles, so an admin command's output stays what it prints.
 */
export async function withInfrastructure<T>(fn: (infra: Infrastructure) => Promise<T>): Promise<T> {
  const infra = await prepareInfrastructure(env(), { redis: false, warnings: false });
  try {
    return await fn(infra);
  } finally {
    await infra.close();
  }
}
