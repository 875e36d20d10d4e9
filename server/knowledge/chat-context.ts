import type { Db } from '../db/client';
import { KnowledgeBases } from './bases';
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
export function knowledgeInstruction(passages: RetrievedPassage[], maxChars = MAX_CONTEXT_CHARS): { text: string; citations: Citation[] } {
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

/**
 * For a chat turn: the passages of the conversation's knowledge bases (those the user can still read)
 * for the user's message, as a system-context addition and the citations the reply records. Null when
 * no base is attached: the turn goes out unchanged.
 */
export async function knowledgeForTurn(
  deps: { db: Db; masterKey: Buffer; gatewayUrl: string },
  user: { id: string; role: string },
  conversationId: string,
  question: string,
  maxChars = MAX_CONTEXT_CHARS,
): Promise<{ text: string; citations: Citation[] } | null> {
  const bases = new KnowledgeBases(deps.db, deps.masterKey, user, queueOnRedis);
  const attached = await new ConversationKnowledge(deps.db, bases).attached(conversationId);
  if (attached.length === 0) return null;
  const passages = await retrievePassages(deps, user.id, attached.map((a) => a.id), question, DEFAULT_RETRIEVAL);
  return knowledgeInstruction(passages, Math.min(MAX_CONTEXT_CHARS, maxChars));
}
