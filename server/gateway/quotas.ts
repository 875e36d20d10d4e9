import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { eq, inArray } from 'drizzle-orm';
import { errorMessage, log } from '../core/log';
import type { Db } from '../db/client';
import { apiKeys, deploymentPrices, groups, quotas, users } from '../db/schema';
import type { Caller } from './auth';
import { GatewayError } from './errors';
import { CREDIT_SCRIPT, createCreditBook, type LocalGrant } from './quota-credit';

/**
 * Quotas and rate limits per user and per API key, shared by every gateway and web process through Redis.
 *
 * What applies to a request: the key's own row (else the `default_key` row) and its owner's row (else
 * `default_user`); a chat turn from the browser has no key and gets its user's. Every limit of every
 * subject must allow it. A group's row is one pool its members share (a team budget): every group of the
 * caller that has a row applies too (`subjectsFor`).
 *
 * While every limit is far from reached, a request is admitted on local credit taken from Redis in blocks
 * (quota-credit.ts: no round trip; never over a limit). Otherwise the hot path is ONE Redis round trip
 * (ADMIT, a Lua script, so checks and reservations are atomic across processes): it takes a concurrency slot (a sorted set of request ids scored by a lease deadline, so a
 * crashed process's slots free themselves), counts the request in its minute, and checks the day's and
 * the month's tokens against their budgets. Tokens are added after the response with the engine's real
 * count (RELEASE, off the hot path, batched over 5 ms; for requests admitted on credit, summed and sent once a second), so one request may end a budget a little over its limit; the next
 * one is refused.
 *
 * Redis unreachable: refused (503, `quota_unavailable`) for every caller a limit applies to; callers with
 * no quota never touch Redis. A bank does not let a card spend past its limit because the ledger is
 * offline: a limit that silently stops applying during an outage is a control that fails exactly when it
 * is tested, and an outage is when a runaway client does the most harm to people sharing the GPUs. The
 * per-process concurrency cap (concurrency.ts) still applies on its own.
 */

export type QuotaLimitName = 'requests_per_minute' | 'tokens_per_day' | 'tokens_per_month' | 'concurrent_requests';

export interface Limits {
  requestsPerMinute: number | null;
  tokensPerDay: number | null;
  tokensPerMonth: number | null;
  maxConcurrent: number | null;
}

export interface QuotaSubject {
  kind: 'user' | 'key' | 'group';
  id: string;
  limits: Limits;
}

interface Price {
  prompt: number;
  completion: number;
}

const NONE = -1;
/** Releases are sent together every few ms, or at once past this many. */
const RELEASE_DELAY_MS = 5;
/**
 * Tokens of requests admitted on local credit (no slot in Redis waits on them) are summed per subject and
 * counted once a second: one Redis write a second instead of one per request (about half a millisecond
 * of CPU each on a two-core machine, which at one stream at a time was a tenth of the gateway's CPU).
 */
const TOKEN_DELAY_MS = 1_000;
const RELEASE_BATCH = 200;

type Windows = ReturnType<typeof computeWindows>;
let lastWindows: Windows | null = null;

/** The day and month windows, in UTC, and when each ends (computed once a minute). */
export function windows(now: number): Windows {
  const w = lastWindows;
  if (w && now >= w.minuteStarts && now < w.minuteEnds) return w;
  return (lastWindows = computeWindows(now));
}

function computeWindows(now: number) {
  const d = new Date(now);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const day = `${y}${String(m + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
  const month = day.slice(0, 6);
  const minute = Math.floor(now / 60_000);
  return {
    minute: String(minute),
    minuteStarts: minute * 60_000,
    minuteEnds: (minute + 1) * 60_000,
    day,
    dayEnds: Date.UTC(y, m, d.getUTCDate() + 1),
    month,
    monthEnds: Date.UTC(y, m + 1, 1),
  };
}

type SubjectKeys = ReturnType<typeof makeSubjectKeys>;
const keyCache = new Map<string, { w: Windows; keys: SubjectKeys }>();

/** A subject's Redis keys for the minute `now` falls in (built once a minute per subject: no strings built per request). */
export function subjectKeys(prefix: string, s: { kind: string; id: string }, now: number): SubjectKeys {
  const w = windows(now);
  const id = `${prefix}:quota:${s.kind}:${s.id}`;
  const hit = keyCache.get(id);
  if (hit?.w === w) return hit.keys;
  if (keyCache.size >= 50_000) keyCache.clear();
  const keys = makeSubjectKeys(id, w);
  keyCache.set(id, { w, keys });
  return keys;
}

function makeSubjectKeys(base: string, w: Windows) {
  return {
    window: w.minute,
    dayWindow: w.day,
    monthWindow: w.month,
    concurrent: `${base}:conc`,
    minute: `${base}:rpm:${w.minute}`,
    day: `${base}:tok:d:${w.day}`,
    month: `${base}:tok:m:${w.month}`,
    costDay: `${base}:cost:d:${w.day}`,
    costMonth: `${base}:cost:m:${w.month}`,
  };
}

// KEYS: per subject i (0-based), 4 keys: concurrency zset, minute counter, day tokens, month tokens.
// ARGV: now, subjects, request id, lease deadline, then per subject: rpm, tokens/day, tokens/month, concurrent (-1: none).
// Answers {1} or {0, subject index, limit, used, limit value}.
const ADMIT = `
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
for i = 0, n - 1 do
  local a = 5 + i * 4
  local k = i * 4
  local rpm, tpd, tpm, conc = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  if conc >= 0 then
    local c = redis.call('ZCARD', KEYS[k + 1])
    -- Slots whose lease ran out (their process died) are dropped only when they would matter.
    if c >= conc then
      redis.call('ZREMRANGEBYSCORE', KEYS[k + 1], '-inf', now)
      c = redis.call('ZCARD', KEYS[k + 1])
      if c >= conc then return {0, i, 'concurrent_requests', c, conc} end
    end
  end
  if rpm >= 0 then
    local c = tonumber(redis.call('GET', KEYS[k + 2]) or '0')
    if c >= rpm then return {0, i, 'requests_per_minute', c, rpm} end
  end
  if tpd >= 0 then
    local c = tonumber(redis.call('GET', KEYS[k + 3]) or '0')
    if c >= tpd then return {0, i, 'tokens_per_day', c, tpd} end
  end
  if tpm >= 0 then
    local c = tonumber(redis.call('GET', KEYS[k + 4]) or '0')
    if c >= tpm then return {0, i, 'tokens_per_month', c, tpm} end
  end
end
local lease = tonumber(ARGV[4])
for i = 0, n - 1 do
  local a = 5 + i * 4
  local k = i * 4
  if tonumber(ARGV[a + 3]) >= 0 then
    redis.call('ZADD', KEYS[k + 1], lease, ARGV[3])
    -- Only ever later: slots held on credit (quota-credit.ts) may have later deadlines than this lease.
    if redis.call('PTTL', KEYS[k + 1]) < lease + 1000 - now then redis.call('PEXPIREAT', KEYS[k + 1], lease + 1000) end
  end
  if tonumber(ARGV[a]) >= 0 then
    if redis.call('INCR', KEYS[k + 2]) == 1 then redis.call('PEXPIRE', KEYS[k + 2], 61000) end
  end
end
return {1}
`;

// Releases of several requests at once (a batch collected over a few ms). KEYS: per request, per subject, 5
// keys: concurrency zset, day tokens, month tokens, day cost, month cost. ARGV: day ttl s, month ttl s,
// requests, then per request: its subjects, its id, tokens, cost (micro-units of the price's currency).
// Answers each request's subjects' day and month token totals, in order (what local credit reads budgets from).
const RELEASE = `
local dayTtl, monthTtl = ARGV[1], ARGV[2]
local a, k = 4, 1
local totals = {}
for j = 1, tonumber(ARGV[3]) do
  local n, id, tokens, cost = tonumber(ARGV[a]), ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  a = a + 4
  for i = 1, n do
    redis.call('ZREM', KEYS[k], id)
    if tokens > 0 then
      local d = redis.call('INCRBY', KEYS[k + 1], tokens)
      if d == tokens then redis.call('EXPIRE', KEYS[k + 1], dayTtl) end
      local m = redis.call('INCRBY', KEYS[k + 2], tokens)
      if m == tokens then redis.call('EXPIRE', KEYS[k + 2], monthTtl) end
      totals[#totals + 1] = d
      totals[#totals + 1] = m
    else
      totals[#totals + 1] = tonumber(redis.call('GET', KEYS[k + 1]) or '0')
      totals[#totals + 1] = tonumber(redis.call('GET', KEYS[k + 2]) or '0')
    end
    if cost > 0 then
      if redis.call('INCRBY', KEYS[k + 3], cost) == cost then redis.call('EXPIRE', KEYS[k + 3], dayTtl) end
      if redis.call('INCRBY', KEYS[k + 4], cost) == cost then redis.call('EXPIRE', KEYS[k + 4], monthTtl) end
    end
    k = k + 5
  end
end
return totals
`;

const sha = (script: string) => createHash('sha1').update(script).digest('hex');
const ADMIT_SHA = sha(ADMIT);
const RELEASE_SHA = sha(RELEASE);
const CREDIT_SHA = sha(CREDIT_SCRIPT);

/** EVALSHA, loading the script once when Redis does not know it yet (first use, or after a restart). */
async function run(redis: Redis, script: string, hash: string, keys: string[], args: (string | number)[]): Promise<unknown> {
  try {
    return await redis.evalsha(hash, keys.length, ...keys, ...args);
  } catch (err) {
    if (!errorMessage(err).includes('NOSCRIPT')) throw err;
    return redis.eval(script, keys.length, ...keys, ...args);
  }
}

interface QuotaRows {
  defaultUser: Limits | null;
  defaultKey: Limits | null;
  users: Map<string, Limits>;
  keys: Map<string, Limits>;
  groups: Map<string, Limits>;
  prices: Map<string, Price>;
}

function limitsOf(r: typeof quotas.$inferSelect): Limits {
  return { requestsPerMinute: r.requestsPerMinute, tokensPerDay: r.tokensPerDay, tokensPerMonth: r.tokensPerMonth, maxConcurrent: r.maxConcurrent };
}

const hasAny = (l: Limits) => l.requestsPerMinute !== null || l.tokensPerDay !== null || l.tokensPerMonth !== null || l.maxConcurrent !== null;

/** Every quota row and price, read in two queries (they are few: defaults plus overrides). */
export async function loadQuotaRows(db: Db): Promise<QuotaRows> {
  const [rows, prices] = await Promise.all([db.select().from(quotas), db.select().from(deploymentPrices)]);
  const out: QuotaRows = { defaultUser: null, defaultKey: null, users: new Map(), keys: new Map(), groups: new Map(), prices: new Map() };
  for (const r of rows) {
    const l = limitsOf(r);
    if (r.subjectKind === 'default_user') out.defaultUser = l;
    else if (r.subjectKind === 'default_key') out.defaultKey = l;
    else if (r.subjectKind === 'user') out.users.set(r.subjectId!, l);
    else if (r.subjectKind === 'key') out.keys.set(r.subjectId!, l);
    else if (r.subjectKind === 'group') out.groups.set(r.subjectId!, l);
  }
  for (const p of prices) out.prices.set(p.deploymentId, { prompt: Number(p.promptPerMillion), completion: Number(p.completionPerMillion) });
  return out;
}

/** The subjects whose limits apply to a caller (those with at least one limit). */
export function subjectsFor(rows: QuotaRows, caller: Pick<Caller, 'keyId' | 'userId' | 'groups'>): QuotaSubject[] {
  const out: QuotaSubject[] = [];
  if (caller.keyId) {
    const l = rows.keys.get(caller.keyId) ?? rows.defaultKey;
    if (l && hasAny(l)) out.push({ kind: 'key', id: caller.keyId, limits: l });
  }
  const u = rows.users.get(caller.userId) ?? rows.defaultUser;
  if (u && hasAny(u)) out.push({ kind: 'user', id: caller.userId, limits: u });
  if (rows.groups.size > 0)
    for (const g of caller.groups) {
      const l = rows.groups.get(g);
      if (l && hasAny(l)) out.push({ kind: 'group', id: g, limits: l });
    }
  return out;
}

interface Reservation {
  id: string;
  subjects: QuotaSubject[];
  at: number;
  /** Admitted on local credit (no slot of its own in Redis). */
  grant?: LocalGrant;
}

export interface QuotaEnforcer {
  /**
   * Reserves the request against every limit that applies to the caller: null when none applies (no
   * Redis call), else a promise that resolves once admitted or rejects with a 429 (or 503) GatewayError.
   */
  admit(caller: Caller): Promise<Reservation> | null;
  /** Gives the slot back and adds the tokens used (and their cost, when the deployment has a price). */
  release(r: Reservation, deploymentId: string | null, promptTokens: number | null, completionTokens: number | null): void;
  refresh(): Promise<void>;
  close(): void;
}

export interface QuotaOptions {
  prefix: string;
  /** How long a slot is held at most if its process dies without giving it back (the request timeout). */
  leaseMs: number;
  refreshMs?: number;
  now?: () => number;
}

/** Redis's ioredis client states in which a command is answered now rather than queued. */
/** Reconnecting or closed: a command would wait in the offline queue, so the request is refused at once instead. */
const down = (redis: Redis) => redis.status === 'reconnecting' || redis.status === 'close' || redis.status === 'end';

const processTag = randomUUID().slice(0, 8);
let sequence = 0;

export function createQuotaEnforcer(db: Db, shared: Redis, opts: QuotaOptions): QuotaEnforcer {
  const now = opts.now ?? Date.now;
  // A connection of its own that sends the commands of one tick in one write (auto-pipelining): a burst
  // of requests costs one syscall each way, not one per request. Never waits more than a second.
  const redis = shared.duplicate({ enableAutoPipelining: true, commandTimeout: 1_000, maxRetriesPerRequest: 0 });
  redis.on('error', () => {});
  if (redis.status === 'wait') redis.connect().catch(() => {});
  let rows: QuotaRows = { defaultUser: null, defaultKey: null, users: new Map(), keys: new Map(), groups: new Map(), prices: new Map() };
  let loaded = false;
  const refresh = async () => {
    rows = await loadQuotaRows(db);
    loaded = true;
  };
  const first = refresh().catch((err) => log.error('quotas: loading limits failed', { error: errorMessage(err) }));
  // Changes are announced over Redis (the gateway calls refresh at once); the poll only covers a missed announcement.
  const timer = setInterval(() => {
    refresh().catch((err) => log.error('quotas: reloading limits failed', { error: errorMessage(err) }));
  }, opts.refreshMs ?? 30_000);
  timer.unref();

  // Releases wait a few ms to go to Redis together: one command for a burst of finished requests.
  let pending = { keys: [] as string[], args: [] as (string | number)[], subjects: [] as QuotaSubject[], count: 0 };
  let flushTimer: NodeJS.Timeout | undefined;
  let owed = new Map<string, { subject: QuotaSubject; at: number; tokens: number; cost: number }>();
  let owedTimer: NodeJS.Timeout | undefined;
  let closed = false;
  /** Queues one entry of the RELEASE script: a request's (or an owed sum's) subjects, slot id, tokens, cost. */
  function queueRelease(subjects: readonly QuotaSubject[], id: string, at: number, tokens: number, cost: number) {
    for (const s of subjects) {
      const k = subjectKeys(opts.prefix, s, at);
      pending.keys.push(k.concurrent, k.day, k.month, k.costDay, k.costMonth);
      pending.subjects.push(s);
    }
    pending.args.push(subjects.length, id, tokens, cost);
    pending.count++;
  }
  function flush(): Promise<unknown> {
    clearTimeout(flushTimer);
    clearTimeout(owedTimer);
    flushTimer = owedTimer = undefined;
    // No slot of their own in Redis: '-' removes nothing.
    for (const o of owed.values()) queueRelease([o.subject], '-', o.at, o.tokens, o.cost);
    owed = new Map();
    if (pending.count === 0) return Promise.resolve();
    const { keys, args, subjects, count } = pending;
    pending = { keys: [], args: [], subjects: [], count: 0 };
    const at = now();
    return run(redis, RELEASE, RELEASE_SHA, keys, [2 * 86_400, 32 * 86_400, count, ...args]).then((totals) => {
      // Fresh budget totals for local credit, at no extra cost.
      const t = totals as number[];
      subjects.forEach((s, i) => credit.read(s, Number(t[2 * i]), Number(t[2 * i + 1]), at));
    }, (err) =>
      log.warn('quotas: giving back slots and counting tokens failed (the slots free themselves at their lease)', { error: errorMessage(err), requests: count }),
    );
  }

  const credit = createCreditBook({
    redis,
    run: (keys, args) => run(redis, CREDIT_SCRIPT, CREDIT_SHA, keys, args),
    keysOf: (s, at) => subjectKeys(opts.prefix, s, at),
    // Its own prefix per enforcer: two in one process (tests) must not name the same slots.
    memberPrefix: `${processTag}:${randomUUID().slice(0, 6)}:slot:`,
    now,
    usable: () => !closed && !down(redis),
  });

  async function admitSubjects(caller: Caller, subjects: QuotaSubject[]): Promise<Reservation> {
    const at = now();
    const id = `${processTag}:${sequence++}`;
    if (down(redis)) throw unavailable();
    const keys: string[] = [];
    const args: (string | number)[] = [at, subjects.length, id, at + opts.leaseMs];
    for (const s of subjects) {
      const k = subjectKeys(opts.prefix, s, at);
      keys.push(k.concurrent, k.minute, k.day, k.month);
      const l = s.limits;
      args.push(l.requestsPerMinute ?? NONE, l.tokensPerDay ?? NONE, l.tokensPerMonth ?? NONE, l.maxConcurrent ?? NONE);
    }
    let answer: [number, number?, string?, number?, number?];
    try {
      answer = (await run(redis, ADMIT, ADMIT_SHA, keys, args)) as typeof answer;
    } catch (err) {
      log.warn('quotas: Redis failed; refusing requests under a quota', { error: errorMessage(err) });
      throw unavailable();
    }
    if (answer[0] === 1) return { id, subjects, at };
    const subject = subjects[answer[1]!]!;
    throw await refusal(db, subject, answer[2] as QuotaLimitName, Number(answer[3]), Number(answer[4]), at);
  }

  return {
    admit(caller) {
      if (!loaded) return first.then(() => admitSubjects(caller, subjectsFor(rows, caller)));
      const subjects = subjectsFor(rows, caller);
      if (subjects.length === 0) return null;
      const at = now();
      const grant = credit.take(subjects, at);
      if (grant) return Promise.resolve({ id: `${processTag}:${sequence++}`, subjects, at, grant });
      return admitSubjects(caller, subjects);
    },
    release(r, deploymentId, promptTokens, completionTokens) {
      if (closed) return; // a request ending as the process stops: its slot frees itself at its lease
      const tokens = (promptTokens ?? 0) + (completionTokens ?? 0);
      const price = deploymentId ? rows.prices.get(deploymentId) : undefined;
      // Micro-units: (tokens × price per million) / 1e6 × 1e6.
      const cost = price ? Math.round((promptTokens ?? 0) * price.prompt + (completionTokens ?? 0) * price.completion) : 0;
      if (r.grant) {
        // A slot taken on local credit goes back to this process's spare; the tokens are owed to Redis.
        credit.give(r.subjects, r.grant, tokens);
        if (tokens === 0 && cost === 0) return;
        const day = windows(r.at).day;
        for (const s of r.subjects) {
          const id = `${s.kind}:${s.id}:${day}`;
          const o = owed.get(id);
          if (o) {
            o.tokens += tokens;
            o.cost += cost;
          } else owed.set(id, { subject: s, at: r.at, tokens, cost });
        }
        if (owed.size >= RELEASE_BATCH) flush();
        else owedTimer ??= setTimeout(flush, TOKEN_DELAY_MS);
        return;
      }
      credit.count(r.subjects, tokens);
      queueRelease(r.subjects, r.id, r.at, tokens, cost);
      if (pending.count >= RELEASE_BATCH) flush();
      else flushTimer ??= setTimeout(flush, RELEASE_DELAY_MS);
    },
    refresh,
    close() {
      clearInterval(timer);
      closed = true;
      // The last releases, and the slots held on credit, go out before the connection closes.
      void Promise.all([flush(), credit.close()]).finally(() => redis.quit().catch(() => redis.disconnect()));
    },
  };
}

function unavailable(): GatewayError {
  return new GatewayError(
    503,
    'api_error',
    'quota_unavailable',
    'Quotas cannot be checked right now (Redis is unreachable); requests under a quota are refused until it is back',
    null,
    { 'retry-after': '5' },
  );
}

const LIMIT_WORDS: Record<QuotaLimitName, string> = {
  requests_per_minute: 'requests per minute',
  tokens_per_day: 'tokens per day',
  tokens_per_month: 'tokens per month',
  concurrent_requests: 'concurrent requests',
};

/** Who a subject is, in words: the user's email, or the key's name and prefix. */
async function describe(db: Db, s: QuotaSubject): Promise<string> {
  try {
    if (s.kind === 'user') {
      const [u] = await db.select({ email: users.email }).from(users).where(eq(users.id, s.id)).limit(1);
      return `user ${u?.email ?? s.id}`;
    }
    if (s.kind === 'group') {
      const [g] = await db.select({ name: groups.name }).from(groups).where(eq(groups.id, s.id)).limit(1);
      return `group '${g?.name ?? s.id}' (shared by its members)`;
    }
    const [k] = await db.select({ name: apiKeys.name, prefix: apiKeys.prefix }).from(apiKeys).where(inArray(apiKeys.id, [s.id])).limit(1);
    return k ? `API key '${k.name}' (${k.prefix}…)` : `API key ${s.id}`;
  } catch {
    return `${s.kind === 'key' ? 'API key' : s.kind} ${s.id}`;
  }
}

/** The 429 naming the limit hit, who it belongs to, how much is used, and when it resets. */
export async function refusal(db: Db, s: QuotaSubject, limit: QuotaLimitName, used: number, max: number, at: number): Promise<GatewayError> {
  const w = windows(at);
  const resetsAt = limit === 'requests_per_minute' ? w.minuteEnds : limit === 'tokens_per_day' ? w.dayEnds : limit === 'tokens_per_month' ? w.monthEnds : null;
  const retryAfter = resetsAt === null ? 1 : Math.max(1, Math.ceil((resetsAt - at) / 1000));
  const who = await describe(db, s);
  const tail =
    resetsAt === null ? 'retry when one finishes' : `resets at ${new Date(resetsAt).toISOString().replace('.000Z', 'Z')}`;
  return new GatewayError(
    429,
    'rate_limit_error',
    `quota_${limit}`,
    `Quota reached: ${LIMIT_WORDS[limit]} for ${who}: ${used} used of ${max}; ${tail}`,
    null,
    { 'retry-after': String(retryAfter), 'x-enclave-quota-limit': limit },
  );
}

/** What a subject has used in its current windows (for the chat's meter and the admin page). */
export async function readUsage(redis: Redis, prefix: string, s: { kind: string; id: string }, at = Date.now()) {
  const k = subjectKeys(prefix, s, at);
  const r = await redis
    .multi()
    .zremrangebyscore(k.concurrent, '-inf', at)
    .zcard(k.concurrent)
    .get(k.minute)
    .get(k.day)
    .get(k.month)
    .get(k.costDay)
    .get(k.costMonth)
    .exec();
  const [conc, minute, day, month, costDay, costMonth] = [1, 2, 3, 4, 5, 6].map((i) => Number(r?.[i]?.[1] ?? 0));
  const w = windows(at);
  return {
    concurrent: Number(conc ?? 0),
    requestsThisMinute: Number(minute ?? 0),
    tokensToday: Number(day ?? 0),
    tokensThisMonth: Number(month ?? 0),
    /** In the deployments' price currency. */
    costToday: Number(costDay ?? 0) / 1e6,
    costThisMonth: Number(costMonth ?? 0) / 1e6,
    dayEnds: new Date(w.dayEnds),
    monthEnds: new Date(w.monthEnds),
  };
}
