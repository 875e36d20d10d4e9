import type { Db } from '../db/client';
import { levelName, type Level } from '../security/classification';
import { KnowledgeBases } from './bases';
import { knowledgeBaseLevels } from './classification';
import { ConversationKnowledge } from './conversation-knowledge';
import { queueOnRedis } from './queue-document';
import { DEFAULT_RETRIEVAL, retrievePassages, type RetrievedPassage } from './retrieve';

/**
 * What a reply's metadata records of each passage it was given: ids and page only. Metadata is not sealed,
 * and a document's name and headings are its owner's content: the UI opens them through knowledge.passage.
 */
export interface Citation {
  n: number;
  chunkId: string;
  documentId: string;
  page: number | null;
}

/** Room the passages may take in the system context (characters): small models have small contexts. */
const MAX_CONTEXT_CHARS = 2400;

function where(p: { page: number | null; heading: string[] }): string {
  return [p.page !== null ? `page ${p.page}` : '', p.heading.join(' › ')].filter(Boolean).join(', ');
}

/** The system context for a turn with the passages numbered, or the instruction to say nothing relevant was found. */
export function knowledgeInstruction(passages: RetrievedPassage[], maxChars = MAX_CONTEXT_CHARS, withheld = 0): { text: string; citations: Citation[] } {
  if (passages.length === 0 && withheld > 0) {
    return {
      text: 'The passages of the attached knowledge bases that are relevant to this question are classified above what you may receive, so they were withheld. Say that the answer is in documents that cannot be shared with this model; do not make up an answer.',
      citations: [],
    };
  }
  if (passages.length === 0) {
    return {
      text: 'The attached knowledge bases hold no passage relevant to this question. Say that the documents do not cover it; do not make up an answer from them.',
      citations: [],
    };
  }
  const citations: Citation[] = [];
  const blocks: string[] = [];
  let used = 0;
  for (const p of passages) {
    const n = citations.length + 1;
    const head = `[${n}] ${p.documentName}${where(p) ? ` (${where(p)})` : ''}`;
    const room = maxChars - used - head.length - 2;
    if (room < 80) break;
    const body = p.text.length > room ? `${p.text.slice(0, room - 1)}…` : p.text;
    blocks.push(`${head}\n${body}`);
    used += head.length + body.length + 2;
    citations.push({ n, chunkId: p.chunkId, documentId: p.documentId, page: p.page });
  }
  return {
    text: `Answer from the numbered passages below and cite them as [1], [2]. If they do not answer the question, say so.\n\n${blocks.join('\n\n')}`,
    citations,
  };
}

/** The highest level a turn's deployment may receive (the gateway's rule, chat/knowledge-limit.ts), and its name for the notice. */
export interface TurnLimit {
  model: string;
  level: Level;
}

/**
 * Passages left out of a turn because their base's level is above what the turn's deployment may receive:
 * how many, their levels' names, and the limit. Counts and names only: the reply's metadata keeps it.
 */
export interface Withheld {
  passages: number;
  levels: string[];
  model: string;
  maxLevel: string;
}

export interface TurnKnowledge {
  text: string;
  citations: Citation[];
  withheld?: Withheld;
  /** The highest level among the bases whose passages the turn was given (null: none given): the conversation rises to it. */
  level: Level | null;
  kbIds: string[];
}

/**
 * For a chat turn: the passages of the conversation's knowledge bases (those the user can still read)
 * for the user's message, as a system-context addition and the citations the reply records. Null when
 * no base is attached: the turn goes out unchanged. Passages of a base whose level is above the limit are
 * withheld (never sent, counted); the ranking runs over every attached base, so a withheld passage counts
 * where it would have ranked among the first k, and the others fill the turn's places.
 */
export async function knowledgeForTurn(
  deps: { db: Db; masterKey: Buffer; gatewayUrl: string },
  user: { id: string; role: string },
  conversationId: string,
  question: string,
  maxChars = MAX_CONTEXT_CHARS,
  /** What the turn's deployment may receive; asked only when a base is attached. None: every passage may go. */
  limitOf?: () => Promise<TurnLimit>,
): Promise<TurnKnowledge | null> {
  const bases = new KnowledgeBases(deps.db, deps.masterKey, user, queueOnRedis);
  const attached = await new ConversationKnowledge(deps.db, bases).attached(conversationId);
  if (attached.length === 0) return null;
  const [levels, limit] = await Promise.all([knowledgeBaseLevels(deps.db, attached.map((a) => a.id)), limitOf?.()]);
  const k = DEFAULT_RETRIEVAL.k;
  // With a base above the limit, rank further down so the other bases' passages can fill its places.
  const someAbove = !!limit && [...levels.values()].some((l) => l > limit.level);
  const ranked = await retrievePassages(deps, user.id, attached.map((a) => a.id), question, { ...DEFAULT_RETRIEVAL, k: someAbove ? k * 3 : k });
  const allowed = (p: RetrievedPassage) => !limit || (levels.get(p.kbId) ?? 3) <= limit.level;
  const given = ranked.filter(allowed).slice(0, k);
  const kept = ranked.slice(0, k).filter((p) => !allowed(p));
  const instruction = knowledgeInstruction(given, Math.min(MAX_CONTEXT_CHARS, maxChars), kept.length);
  // Only the bases of passages the instruction holds (it may have run out of room for some).
  const cited = new Set(instruction.citations.map((c) => c.chunkId));
  const kbIds = [...new Set(given.filter((p) => cited.has(p.chunkId)).map((p) => p.kbId))];
  const level = kbIds.length ? (Math.max(...kbIds.map((id) => levels.get(id) ?? 3)) as Level) : null;
  return {
    ...instruction,
    level,
    kbIds,
    ...(limit && kept.length
      ? {
          withheld: {
            passages: kept.length,
            levels: [...new Set(kept.map((p) => levels.get(p.kbId) ?? 3))].sort().map((l) => levelName(l)),
            model: limit.model,
            maxLevel: levelName(limit.level),
          },
        }
      : {}),
  };
}
