import { and, count, desc, eq, gte, inArray, isNull, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { battles, deployments, messages, models, modelVersions } from '../../db/schema';
import { DomainError } from '../../core/errors';
import { isUuid } from '../../core/ids';
import type { Winner } from './games';

export interface VoteResult {
  /** The battle again, under the name the audit middleware takes as its target. */
  id: string;
  battleId: string;
  winner: Winner;
  modelA: string;
  modelB: string;
  excluded: boolean;
  excludedReason: string | null;
}

/** Midnight UTC today: the daily vote cap counts votes since then. */
export function startOfUtcDay(now = new Date()): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

/**
 * One user's battles. The owner is fixed at construction and every query carries it, so someone
 * else's battle reads exactly like a missing one.
 */
export class Battles {
  constructor(
    private readonly db: Db,
    readonly userId: string,
  ) {}

  async votesToday(now = new Date()): Promise<number> {
    const [row] = await this.db
      .select({ n: count() })
      .from(battles)
      .where(and(eq(battles.userId, this.userId), gte(battles.votedAt, startOfUtcDay(now))));
    return row!.n;
  }

  async record(input: { conversationId: string; modelA: string; modelB: string; excludedReason: string | null }): Promise<{ id: string }> {
    const [row] = await this.db
      .insert(battles)
      .values({ userId: this.userId, conversationId: input.conversationId, modelA: input.modelA, modelB: input.modelB, excluded: input.excludedReason !== null, excludedReason: input.excludedReason })
      .returning({ id: battles.id });
    return row!;
  }

  /**
   * Records the vote once and reveals the names. The per-user advisory lock makes "already voted"
   * and the daily cap exact even when one person votes from two tabs at once; the revealed names
   * are also written onto the two answers, so the conversation shows them from now on.
   */
  async vote(battleId: string, winner: Winner, dailyCap: number): Promise<VoteResult> {
    if (!isUuid(battleId)) throw new DomainError('NOT_FOUND', 'Battle not found');
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${`arena-vote:${this.userId}`}))`);
      const [battle] = await tx.select().from(battles).where(and(eq(battles.id, battleId), eq(battles.userId, this.userId)));
      if (!battle) throw new DomainError('NOT_FOUND', 'Battle not found');
      if (battle.winner !== null) throw new DomainError('CONFLICT', 'You have already voted on this battle');
      const [today] = await tx
        .select({ n: count() })
        .from(battles)
        .where(and(eq(battles.userId, this.userId), gte(battles.votedAt, startOfUtcDay())));
      if (today!.n >= dailyCap) throw new DomainError('TOO_MANY_REQUESTS', `You have reached today's limit of ${dailyCap} arena votes; try again tomorrow`);
      await tx.update(battles).set({ winner, votedAt: new Date() }).where(and(eq(battles.id, battleId), isNull(battles.winner)));
      if (battle.conversationId) {
        for (const [side, model] of [['a', battle.modelA], ['b', battle.modelB]] as const)
          await tx
            .update(messages)
            .set({ model })
            .where(and(eq(messages.conversationId, battle.conversationId), sql`${messages.metadata}->'arena'->>'side' = ${side}`));
      }
      return { id: battleId, battleId, winner, modelA: battle.modelA, modelB: battle.modelB, excluded: battle.excluded, excludedReason: battle.excludedReason };
    });
  }

  /** Newest first; names only for battles already voted on (before that they are the secret). */
  async list(limit = 50) {
    const rows = await this.db.select().from(battles).where(eq(battles.userId, this.userId)).orderBy(desc(battles.createdAt)).limit(limit);
    return rows.map((b) => ({
      id: b.id,
      conversationId: b.conversationId,
      createdAt: b.createdAt,
      votedAt: b.votedAt,
      winner: b.winner,
      modelA: b.winner ? b.modelA : null,
      modelB: b.winner ? b.modelB : null,
      excluded: b.winner ? b.excluded : null,
      excludedReason: b.winner ? b.excludedReason : null,
    }));
  }
}

/** The names an answer must not mention: the deployments' own and the models behind them. */
export async function identityNames(db: Db, deploymentNames: string[]): Promise<string[]> {
  const rows = await db
    .select({ deployment: deployments.name, model: models.name })
    .from(deployments)
    .leftJoin(modelVersions, eq(modelVersions.id, deployments.modelVersionId))
    .leftJoin(models, eq(models.id, modelVersions.modelId))
    .where(inArray(deployments.name, deploymentNames));
  return [...new Set([...deploymentNames, ...rows.map((r) => r.model).filter((m): m is string => Boolean(m))])];
}
