import type { Redis } from 'ioredis';
import { errorMessage, log } from '../core/log';

/**
 * Local credit: admissions one process may make without waiting for Redis, taken from Redis in blocks
 * while a limit is far from reached. Why: the exact check is one Redis round trip, and under load (200
 * streams on two cores) its answer waits for the event loop and for Redis's turn on a CPU: about 13 ms
 * added to the first token, for limits nowhere near being reached. A card terminal works the same way
 * with a pre-authorised amount.
 *
 * What it keeps, and what it gives:
 * - **Never over a limit.** Credit is counted in Redis when it is taken: a block of a minute's requests
 *   is added to the minute's counter, a slot is a member of the concurrency set (with a short lease,
 *   renewed every few seconds, so a crashed process's slots free themselves within seconds). Across all
 *   processes, a limit of N admits at most N.
 * - **Exact near a limit.** No credit forms while less than 64 of a limit is left, and a block is at
 *   most 1/16 of what is left: with a small limit, or near a large one, every request asks Redis, as
 *   before. The cost: near a large limit, a request can be refused while other processes still hold a
 *   few idle slots (at most 1/16 of what was left when they took them; a surplus goes back within 5 s),
 *   and a minute's unused block counts as used.
 * - **Sized to demand.** A process keeps a spare of twice the requests it lately had in flight (at
 *   least 16), so a burst like the last one is admitted locally.
 * - **Token budgets** are checked against a reading at most 5 s old (plus what this process has
 *   counted since; every release brings a fresh reading back), and only while under half the budget;
 *   past that, every request asks Redis.
 */

/** Below this much left of a limit, no credit is taken. */
const MIN_LEFT = 64;
/** A block is at most this share (1/n) of what is left. */
const SHARE = 16;
const MAX_BLOCK = 1024;
/** A held slot's lease in Redis, renewed every RENEW_MS: a process that dies frees its slots within this. */
export const SLOT_LEASE_MS = 15_000;
const TICK_MS = 1_000;
/** Held slots are renewed (and a surplus given back) at least this often. */
const RENEW_MS = 5_000;
/** Credit running below this is topped up, off the request's path. */
const LOW = 8;
/**
 * A token-budget reading older than this is not trusted. Local credit needs this process's estimate under
 * half the budget, so another process would have to spend the other half within this time to let one
 * request past the budget; a second made every burst after a pause of more than a second ask Redis.
 */
const READING_MS = 5_000;
/** A subject unused this long gives its credit back. */
const IDLE_MS = 10_000;

export interface CreditLimits {
  requestsPerMinute: number | null;
  tokensPerDay: number | null;
  tokensPerMonth: number | null;
  maxConcurrent: number | null;
}

export interface CreditKeys {
  concurrent: string;
  minute: string;
  day: string;
  month: string;
}

interface Credit {
  id: string;
  /** The limits the credit was taken under: other limits (an admin changed them) void it. */
  limits: CreditLimits;
  keys: (now: number) => CreditKeys & { window: string; dayWindow: string; monthWindow: string };
  rpmWindow: string | null;
  rpmLeft: number;
  idle: string[];
  held: Set<string>;
  busy: number;
  reading: { at: number; dayWindow: string; monthWindow: string; day: number; month: number } | null;
  countedDay: number;
  countedMonth: number;
  refilling: boolean;
  lastRefill: number;
  /** Demand seen by this process (requests in flight, on credit or not), decaying: what the spare is sized to. */
  peak: number;
  busyMax: number;
  shorts: number;
  /** After a refill that left it short (a small limit, or near one): requests do not ask again before this. */
  quietUntil: number;
  lastUsed: number;
}

// KEYS: concurrency zset, minute counter, day tokens, month tokens.
// ARGV: now, rpm limit, concurrency limit, idle slots, idle slots wanted, slot deadline, member prefix, first
// member number, want requests (1/0), min left, share, max block, then every slot held (to renew).
// Answers {requests granted, slots added, slots to give back, day tokens, month tokens}.
export const CREDIT_SCRIPT = `
local now, rpm, conc = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local idle, want, deadline = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local prefix, seq, wantRpm = ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9])
local minLeft, share, maxBlock = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
local granted, added, giveBack = 0, 0, 0
if rpm >= 0 and wantRpm == 1 then
  local left = rpm - tonumber(redis.call('GET', KEYS[2]) or '0')
  if left >= minLeft then
    granted = math.min(maxBlock, math.floor(left / share))
    if redis.call('INCRBY', KEYS[2], granted) == granted then redis.call('PEXPIRE', KEYS[2], 61000) end
  end
end
if conc >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  for i = 13, #ARGV do redis.call('ZADD', KEYS[1], deadline, ARGV[i]) end
  -- This process's idle slots count as free: the spare it may keep is what it would be given now.
  local left = conc - redis.call('ZCARD', KEYS[1]) + idle
  local spare = 0
  if left >= minLeft then spare = math.min(maxBlock, math.floor(left / share), want) end
  if spare > idle then
    added = spare - idle
    for j = 0, added - 1 do redis.call('ZADD', KEYS[1], deadline, prefix .. (seq + j)) end
  else
    giveBack = idle - spare
  end
  -- Only ever later: requests' own slots may hold the set longer than this process's.
  if redis.call('PTTL', KEYS[1]) < deadline + 1000 - now then redis.call('PEXPIREAT', KEYS[1], deadline + 1000) end
end
return {granted, added, giveBack, tonumber(redis.call('GET', KEYS[3]) or '0'), tonumber(redis.call('GET', KEYS[4]) or '0')}
`;

export interface LocalGrant {
  /** Per subject, in order: the slot taken (null where the subject has no concurrency limit). */
  slots: (string | null)[];
}

export interface CreditBook {
  /** Admits locally when every limit of every subject has credit (no Redis call); null otherwise. */
  take(subjects: readonly { kind: string; id: string; limits: CreditLimits }[], now: number): LocalGrant | null;
  /** A locally admitted request ended: its slots go back to the spare, its tokens into the estimate. */
  give(subjects: readonly { kind: string; id: string }[], grant: LocalGrant, tokens: number): void;
  /** A subject's day and month totals as Redis answered them at `at` (after a release counted tokens). */
  read(s: { kind: string; id: string }, day: number, month: number, at: number): void;
  /** Tokens of a request admitted through Redis, for the budget estimate. */
  count(subjects: readonly { kind: string; id: string }[], tokens: number): void;
  close(): Promise<void>;
}

export interface CreditOptions {
  redis: Redis;
  run: (keys: string[], args: (string | number)[]) => Promise<unknown>;
  keysOf: (s: { kind: string; id: string }, now: number) => CreditKeys & { window: string; dayWindow: string; monthWindow: string };
  memberPrefix: string;
  now: () => number;
  usable: () => boolean;
}

const sameLimits = (a: CreditLimits, b: CreditLimits) =>
  a.requestsPerMinute === b.requestsPerMinute && a.tokensPerDay === b.tokensPerDay && a.tokensPerMonth === b.tokensPerMonth && a.maxConcurrent === b.maxConcurrent;

const subjectId = (s: { kind: string; id: string }) => `${s.kind}:${s.id}`;

export function createCreditBook(opts: CreditOptions): CreditBook {
  const credits = new Map<string, Credit>();
  let nextMember = 0;
  let closed = false;

  /** Slots given back to Redis (idle spare beyond what is allowed, voided credit, a closing process). */
  function returnSlots(key: string, members: string[]) {
    if (members.length === 0) return;
    opts.redis.zrem(key, ...members).catch((err) => log.warn('quotas: giving back spare slots failed (they free themselves at their lease)', { error: errorMessage(err) }));
  }

  function creditFor(s: { kind: string; id: string; limits: CreditLimits }, now: number): Credit {
    const id = subjectId(s);
    let c = credits.get(id);
    if (c && !sameLimits(c.limits, s.limits)) {
      // An admin changed the limits: what was taken under the old ones is void. The spare goes back; slots
      // in use stay held (and renewed) until their requests end, then the next tick decides under the new.
      c.limits = s.limits;
      c.rpmLeft = 0;
      c.reading = null;
      const idle = c.idle.splice(0);
      for (const m of idle) c.held.delete(m);
      returnSlots(c.keys(now).concurrent, idle);
    }
    if (!c) {
      c = {
        id,
        limits: s.limits,
        keys: (at) => opts.keysOf(s, at),
        rpmWindow: null,
        rpmLeft: 0,
        idle: [],
        held: new Set(),
        busy: 0,
        reading: null,
        countedDay: 0,
        countedMonth: 0,
        refilling: false,
        lastRefill: 0,
        peak: 0,
        busyMax: 0,
        shorts: 0,
        quietUntil: 0,
        lastUsed: now,
      };
      credits.set(id, c);
    }
    return c;
  }

  /** What a subject lacks credit for now (null: nothing, it may admit locally). */
  function lacking(c: Credit, l: CreditLimits, now: number): 'requests' | 'slots' | 'reading' | 'budget' | null {
    const k = c.keys(now);
    if (l.requestsPerMinute !== null && (c.rpmWindow !== k.window || c.rpmLeft <= 0)) return 'requests';
    if (l.maxConcurrent !== null && c.idle.length === 0) return 'slots';
    if (l.tokensPerDay !== null || l.tokensPerMonth !== null) {
      const r = c.reading;
      if (!r || now - r.at > READING_MS || r.dayWindow !== k.dayWindow || r.monthWindow !== k.monthWindow) return 'reading';
      if (l.tokensPerDay !== null && r.day + c.countedDay >= l.tokensPerDay / 2) return 'budget';
      if (l.tokensPerMonth !== null && r.month + c.countedMonth >= l.tokensPerMonth / 2) return 'budget';
    }
    return null;
  }

  /** Renews held slots, tops the spare and the minute's block up (or gives surplus back), reads the budgets. */
  async function refill(c: Credit): Promise<void> {
    if (c.refilling || closed || !opts.usable()) return;
    c.refilling = true;
    try {
      const now = opts.now();
      const k = c.keys(now);
      const l = c.limits;
      const first = nextMember;
      nextMember += MAX_BLOCK;
      const wantRpm = l.requestsPerMinute !== null && (c.rpmWindow !== k.window || c.rpmLeft < LOW) ? 1 : 0;
      const held = [...c.held];
      const idleAtCall = c.idle.length;
      // Sized to twice the demand lately seen (at least 16), so a burst like the last one is admitted locally.
      c.peak = Math.max(c.busyMax + c.shorts, c.busy, Math.floor(c.peak * 0.8));
      c.busyMax = c.busy;
      c.shorts = 0;
      c.lastRefill = now;
      const want = Math.max(0, Math.max(16, 2 * c.peak) - c.busy);
      const answer = (await opts.run(
        [k.concurrent, k.minute, k.day, k.month],
        [now, l.requestsPerMinute ?? -1, l.maxConcurrent ?? -1, idleAtCall, want, now + SLOT_LEASE_MS, opts.memberPrefix, first, wantRpm, MIN_LEFT, SHARE, MAX_BLOCK, ...held],
      )) as [number, number, number, number, number];
      const [granted, added, giveBack, day, month] = answer.map(Number) as [number, number, number, number, number];
      if (credits.get(c.id) !== c || c.limits !== l) {
        // Dropped while asking (unused, or the process is closing), or taken under limits an admin has
        // changed since: what was just taken goes straight back.
        returnSlots(k.concurrent, Array.from({ length: added }, (_, j) => opts.memberPrefix + (first + j)));
        return;
      }
      if (wantRpm) {
        c.rpmLeft = c.rpmWindow === k.window ? c.rpmLeft + granted : granted;
        c.rpmWindow = k.window;
      }
      for (let j = 0; j < added; j++) {
        const m = opts.memberPrefix + (first + j);
        c.idle.push(m);
        c.held.add(m);
      }
      if (giveBack > 0) {
        const back = c.idle.splice(0, Math.min(giveBack, c.idle.length));
        for (const m of back) c.held.delete(m);
        returnSlots(k.concurrent, back);
      }
      c.reading = { at: now, dayWindow: k.dayWindow, monthWindow: k.monthWindow, day, month };
      c.countedDay = 0;
      c.countedMonth = 0;
      // Still short (a small limit, or near one): requests ask Redis one by one, and do not ask for credit again until the next tick.
      if (lacking(c, l, now)) c.quietUntil = now + TICK_MS;
    } catch (err) {
      log.warn('quotas: taking local credit failed (requests ask Redis one by one meanwhile)', { error: errorMessage(err) });
    } finally {
      c.refilling = false;
    }
  }
  const timer = setInterval(() => {
    const now = opts.now();
    for (const [id, c] of credits) {
      if (now - c.lastUsed > IDLE_MS && c.busy === 0) {
        // Unused for a while: the spare goes back, and the credit with it.
        credits.delete(id);
        returnSlots(c.keys(now).concurrent, c.idle.splice(0));
        continue;
      }
      // Renewal (and giving a surplus back) every few seconds; a credit in use and short is topped up.
      if (now - c.lastRefill >= RENEW_MS || (now - c.lastUsed < 2 * TICK_MS && lacking(c, c.limits, now))) void refill(c);
    }
  }, TICK_MS);
  timer.unref();

  return {
    take(subjects, now) {
      if (closed || !opts.usable()) return null;
      let short = false;
      const cs: Credit[] = [];
      for (const s of subjects) {
        const c = creditFor(s, now);
        c.lastUsed = now;
        cs.push(c);
        const why = lacking(c, s.limits, now);
        if (why) {
          short = true;
          c.shorts++;
          if (now >= c.quietUntil) void refill(c);
        }
      }
      if (short) return null;
      const slots: (string | null)[] = [];
      for (let i = 0; i < cs.length; i++) {
        const c = cs[i]!;
        const l = subjects[i]!.limits;
        if (l.requestsPerMinute !== null) c.rpmLeft--;
        if (l.maxConcurrent !== null) {
          slots.push(c.idle.pop()!);
          if (++c.busy > c.busyMax) c.busyMax = c.busy;
        } else slots.push(null);
        // Running low: top up before it runs out, off the request's path.
        if ((l.requestsPerMinute !== null && c.rpmLeft < LOW) || (l.maxConcurrent !== null && c.idle.length < LOW)) void refill(c);
      }
      return { slots };
    },
    give(subjects, grant, tokens) {
      const now = opts.now();
      subjects.forEach((s, i) => {
        const c = credits.get(subjectId(s));
        const slot = grant.slots[i];
        if (c) {
          c.countedDay += tokens;
          c.countedMonth += tokens;
        }
        if (!slot) return;
        if (c?.held.has(slot)) {
          c.busy--;
          c.idle.push(slot);
        } else {
          // Not held any more (the process is closing): the slot goes back to Redis.
          returnSlots(opts.keysOf(s, now).concurrent, [slot]);
        }
      });
    },
    read(s, day, month, at) {
      const c = credits.get(subjectId(s));
      if (!c || (c.reading && c.reading.at > at)) return;
      const k = c.keys(at);
      c.reading = { at, dayWindow: k.dayWindow, monthWindow: k.monthWindow, day, month };
      c.countedDay = 0;
      c.countedMonth = 0;
    },
    count(subjects, tokens) {
      for (const s of subjects) {
        const c = credits.get(subjectId(s));
        if (!c) continue;
        c.countedDay += tokens;
        c.countedMonth += tokens;
      }
    },
    async close() {
      closed = true;
      clearInterval(timer);
      const now = opts.now();
      await Promise.all(
        [...credits.values()].map((c) => {
          const members = [...c.held];
          credits.delete(c.id);
          return members.length ? opts.redis.zrem(c.keys(now).concurrent, ...members).catch(() => 0) : 0;
        }),
      );
    },
  };
}
