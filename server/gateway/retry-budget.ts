import type { RoutePolicy } from './routes';

/**
 * A deployment's retry budget (issue 14, part 4), per gateway process: at most `maxRetries` retries on
 * other replicas per request, and retries at most `retryBudgetRatio` of the deployment's requests over
 * the last ~10 s (Envoy's retry budget). The ratio is what stops a retry storm: when a deployment is
 * failing because it is overloaded, retrying every request doubles its load exactly when it can take
 * the least. Unset (null) both: every replica is tried once, as before.
 *
 * Counted in two 5 s windows (this one and the last), so the figure slides without keeping a list of
 * timestamps. Keyed by deployment id, since the routing table rebuilds its Route objects on every reload.
 */
const WINDOW_MS = 5_000;

interface Counts {
  windowStart: number;
  requests: number;
  retries: number;
  lastRequests: number;
  lastRetries: number;
}

const budgets = new Map<string, Counts>();

function countsFor(deploymentId: string, now: number): Counts {
  let c = budgets.get(deploymentId);
  if (!c) {
    if (budgets.size > 10_000) budgets.clear();
    budgets.set(deploymentId, (c = { windowStart: now, requests: 0, retries: 0, lastRequests: 0, lastRetries: 0 }));
  }
  if (now - c.windowStart >= WINDOW_MS) {
    const skippedOne = now - c.windowStart >= 2 * WINDOW_MS;
    c.lastRequests = skippedOne ? 0 : c.requests;
    c.lastRetries = skippedOne ? 0 : c.retries;
    c.requests = 0;
    c.retries = 0;
    c.windowStart = now - ((now - c.windowStart) % WINDOW_MS);
  }
  return c;
}

/** A request (first try, or a fallback's) sent to this deployment: counted only where a ratio applies. */
export function countRequest(deploymentId: string, policy: RoutePolicy, now = Date.now()): void {
  if (policy.retryBudgetRatio === null) return;
  countsFor(deploymentId, now).requests++;
}

/**
 * Whether one more retry may be made for a request that already made `retries`; when it may, the retry
 * is counted against the budget.
 */
export function takeRetry(deploymentId: string, policy: RoutePolicy, retries: number, now = Date.now()): boolean {
  if (policy.maxRetries !== null && retries >= policy.maxRetries) return false;
  if (policy.retryBudgetRatio === null) return true;
  const c = countsFor(deploymentId, now);
  if (c.retries + c.lastRetries + 1 > policy.retryBudgetRatio * (c.requests + c.lastRequests)) return false;
  c.retries++;
  return true;
}
