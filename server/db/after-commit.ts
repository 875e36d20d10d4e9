import { AsyncLocalStorage } from 'node:async_hooks';
import { errorMessage, log } from '../core/log';

type Hook = () => unknown;
const pending = new AsyncLocalStorage<Hook[]>();

async function run(hook: Hook): Promise<void> {
  try {
    await hook();
  } catch (e) {
    // The change it follows is committed either way; hooks that must not fail silently catch themselves.
    log.warn('an after-commit step failed', { error: errorMessage(e) });
  }
}

/**
 * Runs `hook` once the surrounding API transaction has committed, or now when there is none (resolving
 * when it has run). For what other processes act on as soon as they hear of it (a queued job, a pub/sub
 * message, a cache invalidation): told before the commit, they would read the rows as they were, or
 * not find them at all.
 */
export async function afterCommit(hook: Hook): Promise<void> {
  const hooks = pending.getStore();
  if (hooks) hooks.push(hook);
  else await run(hook);
}

/** True inside withCommitHooks: afterCommit hooks wait for that scope's commit. */
export function inCommitScope(): boolean {
  return pending.getStore() !== undefined;
}

/**
 * Runs `body` (which opens and commits the transaction) collecting afterCommit hooks, then runs them in
 * order once it resolves. When it throws, the hooks are dropped with the rolled-back change.
 */
export async function withCommitHooks<T>(body: () => Promise<T>): Promise<T> {
  const hooks: Hook[] = [];
  const result = await pending.run(hooks, body);
  for (const hook of hooks) await run(hook);
  return result;
}
