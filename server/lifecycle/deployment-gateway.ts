import { eq, inArray } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../db/client';
import { CACHE_MODES, deploymentReplicas, deployments } from '../db/schema';
import { DomainError, notFound } from '../core/errors';
import { errorMessage, log } from '../core/log';
import { redis } from '../core/redis';
import { env } from '../core/env';
import { announceCredentialChange } from '../security/credential-events';
import { readBreakerStates, type BreakerView } from '../gateway/breaker-state';
import { recordEvent } from './deployment-events';
import type { Actor } from './deployments';

/**
 * How the gateway handles one deployment's requests (issue 14, part 4): its response cache, timeouts,
 * retry budget, fallback chain and context fallback. Stored on the deployment row (migration 0024),
 * changed here with every rule checked on the server, and announced so every gateway reloads at once.
 * Null timeouts and retries mean the gateway's own settings (today's behaviour).
 */
const timeoutMs = z.number().int().min(100).max(3_600_000).nullable();

export const gatewaySettingsSchema = z
  .object({
    id: z.string().uuid(),
    cacheMode: z.enum(CACHE_MODES),
    cacheTtlSeconds: z.number().int().min(1).max(2_592_000),
    firstTokenTimeoutMs: timeoutMs,
    requestTimeoutMs: timeoutMs,
    maxRetries: z.number().int().min(0).max(16).nullable(),
    retryBudgetRatio: z.number().min(0).max(1).nullable(),
    fallbackDeploymentIds: z.array(z.string().uuid()).max(8),
    contextFallbackDeploymentId: z.string().uuid().nullable(),
    /** What the deployment takes besides text (migration 0031): images in chat messages, the audio endpoints. */
    vision: z.boolean(),
    audio: z.boolean(),
    /** Receives the chat's plugins as OpenAI `tools` (migration 0030). */
    tools: z.boolean(),
  })
  .partial()
  .required({ id: true });
export type GatewaySettingsInput = z.input<typeof gatewaySettingsSchema>;

const columns = {
  cacheMode: deployments.cacheMode,
  cacheTtlSeconds: deployments.cacheTtlSeconds,
  firstTokenTimeoutMs: deployments.firstTokenTimeoutMs,
  requestTimeoutMs: deployments.requestTimeoutMs,
  maxRetries: deployments.maxRetries,
  retryBudgetRatio: deployments.retryBudgetRatio,
  fallbackDeploymentIds: deployments.fallbackDeploymentIds,
  contextFallbackDeploymentId: deployments.contextFallbackDeploymentId,
  vision: deployments.vision,
  audio: deployments.audio,
  tools: deployments.tools,
};

export async function updateGatewaySettings(db: Db, actor: Actor | null, raw: GatewaySettingsInput) {
  const { id, ...change } = gatewaySettingsSchema.parse(raw);
  await db.transaction(async (tx) => {
    const [current] = await tx.select({ name: deployments.name, ...columns }).from(deployments).where(eq(deployments.id, id)).for('update');
    if (!current) throw notFound('No such deployment');
    const next = { ...current, ...change };
    const chain = next.fallbackDeploymentIds;
    if (new Set(chain).size !== chain.length) throw new DomainError('BAD_REQUEST', 'fallbackDeploymentIds: a deployment appears twice in the chain');
    if (chain.includes(id) || next.contextFallbackDeploymentId === id) throw new DomainError('BAD_REQUEST', 'A deployment cannot be its own fallback');
    const named = [...chain, ...(next.contextFallbackDeploymentId ? [next.contextFallbackDeploymentId] : [])];
    if (named.length) {
      const found = new Set((await tx.select({ id: deployments.id }).from(deployments).where(inArray(deployments.id, named))).map((r) => r.id));
      const missing = named.filter((d) => !found.has(d));
      if (missing.length) throw new DomainError('BAD_REQUEST', `No such deployment: ${missing.join(', ')}`);
    }
    const firstToken = next.firstTokenTimeoutMs ?? env().GATEWAY_FIRST_TOKEN_TIMEOUT_MS;
    const total = next.requestTimeoutMs ?? env().GATEWAY_REQUEST_TIMEOUT_MS;
    if (firstToken > total) throw new DomainError('BAD_REQUEST', `The time to first token (${firstToken} ms) cannot be longer than the whole request's (${total} ms)`);
    await tx.update(deployments).set({ ...change, updatedAt: new Date() }).where(eq(deployments.id, id));
    const fields = Object.keys(change).join(', ');
    if (fields) await recordEvent(tx, id, 'info', `gateway settings changed${actor ? ` by ${actor.email}` : ''}: ${fields}`);
  });
  // Gateways reload their routing table when routes change.
  await announceCredentialChange({ routes: true });
  return getGatewaySettings(db, id);
}

/** The settings, the fallbacks by name, and each replica's breaker state as the gateways last reported it. */
export async function getGatewaySettings(db: Db, id: string) {
  const [row] = await db.select(columns).from(deployments).where(eq(deployments.id, id));
  if (!row) throw notFound('No such deployment');
  const named = [...row.fallbackDeploymentIds, ...(row.contextFallbackDeploymentId ? [row.contextFallbackDeploymentId] : [])];
  const names = new Map(
    named.length ? (await db.select({ id: deployments.id, name: deployments.name }).from(deployments).where(inArray(deployments.id, named))).map((r) => [r.id, r.name]) : [],
  );
  const replicas = await db.select({ id: deploymentReplicas.id }).from(deploymentReplicas).where(eq(deploymentReplicas.deploymentId, id));
  let breakers: Record<string, BreakerView> = {};
  let breakersKnown = true;
  try {
    breakers = await readBreakerStates(redis(), env().REDIS_PREFIX, replicas.map((r) => r.id));
  } catch (err) {
    // Redis away: the page says the state is unknown rather than "in service".
    breakersKnown = false;
    log.warn('deployments: reading breaker states failed', { error: errorMessage(err) });
  }
  return {
    ...row,
    fallbacks: row.fallbackDeploymentIds.map((d) => ({ id: d, name: names.get(d) ?? null })),
    contextFallback: row.contextFallbackDeploymentId ? { id: row.contextFallbackDeploymentId, name: names.get(row.contextFallbackDeploymentId) ?? null } : null,
    defaults: { firstTokenTimeoutMs: env().GATEWAY_FIRST_TOKEN_TIMEOUT_MS, requestTimeoutMs: env().GATEWAY_REQUEST_TIMEOUT_MS },
    breakers,
    breakersKnown,
    now: Date.now(),
  };
}
