import { and, desc, eq, inArray, isNull, or } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { conversations, legalHolds, users, type LegalHoldSubjectKind } from '../../db/schema';
import type { DbOrTx } from '../../db/types';
import { DomainError } from '../../core/errors';
import { isUuid } from '../../core/ids';

export interface LegalHoldView {
  id: string;
  subjectKind: LegalHoldSubjectKind;
  subjectId: string;
  /** The held user's email, or the held conversation's owner's email: who the hold is about. */
  subjectLabel: string | null;
  reason: string;
  placedBy: string | null;
  placedAt: Date;
  liftedBy: string | null;
  liftedAt: Date | null;
}

export const MAX_HOLD_REASON = 500;

/**
 * Places a legal hold (admins only; the router's guard audits it). The subject must exist; a second
 * active hold on the same subject is refused, naming the one in place.
 */
export async function placeLegalHold(db: Db, input: { subjectKind: LegalHoldSubjectKind; subjectId: string; reason: string; placedBy: string }): Promise<{ id: string }> {
  const reason = input.reason.trim();
  if (!reason) throw new DomainError('BAD_REQUEST', 'reason: say why the hold is placed (a case or matter reference)');
  if (reason.length > MAX_HOLD_REASON) throw new DomainError('BAD_REQUEST', `reason: at most ${MAX_HOLD_REASON} characters`);
  if (!isUuid(input.subjectId)) throw new DomainError('BAD_REQUEST', 'subjectId: not an id');
  const table = input.subjectKind === 'user' ? users : conversations;
  const [exists] = await db.select({ id: table.id }).from(table).where(eq(table.id, input.subjectId));
  if (!exists) throw new DomainError('NOT_FOUND', `subjectId: no such ${input.subjectKind}`);
  const [row] = await db
    .insert(legalHolds)
    .values({ subjectKind: input.subjectKind, subjectId: input.subjectId, reason, placedBy: input.placedBy })
    .onConflictDoNothing()
    .returning({ id: legalHolds.id });
  if (!row) throw new DomainError('CONFLICT', `This ${input.subjectKind} is already under legal hold`);
  return row;
}

/** Lifts an active hold; the row stays, with who lifted it and when. */
export async function liftLegalHold(db: Db, id: string, liftedBy: string): Promise<{ id: string }> {
  const [row] = await db
    .update(legalHolds)
    .set({ liftedBy, liftedAt: new Date() })
    .where(and(eq(legalHolds.id, id), isNull(legalHolds.liftedAt)))
    .returning({ id: legalHolds.id });
  if (!row) throw new DomainError('NOT_FOUND', 'No active legal hold with this id');
  return row;
}

/** Active holds first, then lifted ones (history), newest first; at most `limit`. */
export async function listLegalHolds(db: Db, { limit = 200 }: { limit?: number } = {}): Promise<LegalHoldView[]> {
  const rows = await db.select().from(legalHolds).orderBy(desc(legalHolds.placedAt)).limit(limit);
  const convIds = rows.filter((r) => r.subjectKind === 'conversation').map((r) => r.subjectId);
  const owners = convIds.length
    ? await db.select({ id: conversations.id, userId: conversations.userId }).from(conversations).where(inArray(conversations.id, convIds))
    : [];
  const ownerOf = new Map(owners.map((o) => [o.id, o.userId]));
  const userIds = new Set<string>();
  for (const r of rows) {
    const subject = r.subjectKind === 'user' ? r.subjectId : ownerOf.get(r.subjectId);
    for (const id of [subject, r.placedBy, r.liftedBy]) if (id) userIds.add(id);
  }
  const people = userIds.size ? await db.select({ id: users.id, email: users.email }).from(users).where(inArray(users.id, [...userIds])) : [];
  const email = new Map(people.map((p) => [p.id, p.email]));
  const view = rows.map((r) => ({
    id: r.id,
    subjectKind: r.subjectKind,
    subjectId: r.subjectId,
    subjectLabel: email.get((r.subjectKind === 'user' ? r.subjectId : ownerOf.get(r.subjectId)) ?? '') ?? null,
    reason: r.reason,
    placedBy: r.placedBy ? (email.get(r.placedBy) ?? null) : null,
    placedAt: r.placedAt,
    liftedBy: r.liftedBy ? (email.get(r.liftedBy) ?? null) : null,
    liftedAt: r.liftedAt,
  }));
  return [...view.filter((h) => !h.liftedAt), ...view.filter((h) => h.liftedAt)];
}

/**
 * The active holds that stop deleting a person: on them, or on any conversation of theirs. For admins
 * (erasure, deletion): the refusal names the reason.
 */
export async function holdsOnPerson(db: DbOrTx, userId: string): Promise<{ subjectKind: LegalHoldSubjectKind; subjectId: string; reason: string }[]> {
  return db
    .select({ subjectKind: legalHolds.subjectKind, subjectId: legalHolds.subjectId, reason: legalHolds.reason })
    .from(legalHolds)
    .where(
      and(
        isNull(legalHolds.liftedAt),
        or(
          and(eq(legalHolds.subjectKind, 'user'), eq(legalHolds.subjectId, userId)),
          and(
            eq(legalHolds.subjectKind, 'conversation'),
            inArray(legalHolds.subjectId, db.select({ id: conversations.id }).from(conversations).where(eq(conversations.userId, userId))),
          ),
        ),
      ),
    );
}
