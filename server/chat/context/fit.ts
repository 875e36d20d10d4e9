import { dataUrlImageTokens } from '../../core/images';
import type { ContextWindow } from './windows';

export type ContextPolicy = 'summarize' | 'trim' | 'turns';

export interface HistoryMessage {
  id: string;
  role: 'system' | 'user' | 'assistant';
  content: string;
  /** Images on the message (data: URLs): sent with it as image parts (gateway-client.ts). */
  images?: string[];
}

export interface FitInput {
  /** The branch, oldest first, ending with the message being answered. */
  history: HistoryMessage[];
  /** The conversation's system prompt, always sent first. */
  systemPrompt?: string;
  /** The newest summary on this branch: it stands for history[0..throughIndex]. */
  summary?: { throughIndex: number; text: string } | null;
  policy: ContextPolicy;
  /** With 'turns': the latest user turns to send. */
  turns?: number | null;
  window: ContextWindow;
  maxTokens: number;
}

export type FitPlan =
  | {
      fits: true;
      messages: { role: 'system' | 'user' | 'assistant'; content: string; images?: string[] }[];
      /** The completion budget to ask for: lowered when the context leaves less room. */
      maxTokens: number;
      /** History messages not sent (summarised or left out). */
      omitted: number;
      summarized: boolean;
      /** With 'summarize': messages that no longer fit and have no summary yet (summarise them, then fit again). */
      toSummarize: HistoryMessage[];
      /** The estimate the plan was made on (tokens), for the refusal path's numbers. */
      estimatedTokens: number;
    }
  | { fits: false; latestTokens: number; contextTokens: number; room: number };

/** Tokens a chat template adds around each message (role markers, separators): generous, as the estimate should err long. */
const PER_MESSAGE_TOKENS = 6;

export function estimateTokens(text: string, window: Pick<ContextWindow, 'charsPerToken'>): number {
  return Math.ceil(text.length / window.charsPerToken) + PER_MESSAGE_TOKENS;
}

/** A message's estimate: its text, plus each image at the gateway's estimate for it (core/images.ts). */
export function messageTokens(m: Pick<HistoryMessage, 'content' | 'images'>, window: Pick<ContextWindow, 'charsPerToken'>): number {
  let tokens = estimateTokens(m.content, window);
  for (const url of m.images ?? []) tokens += dataUrlImageTokens(url);
  return tokens;
}

/**
 * Tokens a prompt may take in a context of `contextTokens`: room is kept for the reply (what was asked,
 * never more than a quarter of the context: a larger budget is lowered to the room left) and 5% for the
 * estimate's error. The chat and the gateway's opt-in trimming both fit to it.
 */
export function promptBudget(contextTokens: number, askedMaxTokens: number | null): number {
  const quarter = Math.floor(contextTokens / 4);
  const reserve = Math.min(askedMaxTokens ?? quarter, Math.max(16, quarter));
  return contextTokens - reserve - Math.ceil(contextTokens * 0.05);
}

/**
 * Drops the oldest messages from `start` until `total` (the estimated tokens from `start` on, plus what
 * comes before the history) fits `budget`; never the last message, and the kept part never opens with a
 * reply or a tool result whose question was dropped. Returns the first kept index and the new total.
 */
export function keepLatest(costs: readonly number[], roles: readonly string[], start: number, total: number, budget: number): { start: number; total: number } {
  const last = costs.length - 1;
  while (total > budget && start < last) {
    total -= costs[start]!;
    start++;
    while (start < last && roles[start] !== 'user') {
      total -= costs[start]!;
      start++;
    }
  }
  return { start, total };
}

export const summaryMessage = (text: string) => ({ role: 'system' as const, content: `Summary of the earlier conversation:\n${text}` });

/**
 * What to send for one turn. Keeps the system prompt and the latest turns; older turns go (policy
 * 'trim'), are stood for by their summary ('summarize'), or only the last N user turns are ever sent
 * ('turns'). With an unknown context everything the policy allows is sent: the engine's refusal then
 * says the size and the chat fits again (send.ts).
 */
export function planContext(input: FitInput): FitPlan {
  const { history, window } = input;
  const est = (text: string) => estimateTokens(text, window);
  let start = 0;
  if (input.policy === 'turns' && input.turns) {
    const userIndexes = history.flatMap((m, i) => (m.role === 'user' ? [i] : []));
    start = userIndexes.length > input.turns ? userIndexes[userIndexes.length - input.turns]! : 0;
  }
  const summary = input.policy === 'summarize' && input.summary && input.summary.throughIndex < history.length - 1 ? input.summary : null;
  if (summary) start = Math.max(start, summary.throughIndex + 1);

  const head = [
    ...(input.systemPrompt ? [{ role: 'system' as const, content: input.systemPrompt }] : []),
    ...(summary ? [summaryMessage(summary.text)] : []),
  ];
  const headTokens = head.reduce((n, m) => n + est(m.content), 0);
  const costs = history.map((m) => messageTokens(m, window));
  let total = headTokens + costs.slice(start).reduce((a, b) => a + b, 0);
  const contextTokens = window.tokens;

  if (contextTokens !== undefined) {
    const budget = promptBudget(contextTokens, input.maxTokens);
    ({ start, total } = keepLatest(costs, history.map((m) => m.role), start, total, budget));
    if (total > budget) return { fits: false, latestTokens: costs.at(-1)!, contextTokens, room: budget - headTokens };
  }

  const firstSummarisable = summary ? summary.throughIndex + 1 : 0;
  const toSummarize = input.policy === 'summarize' ? history.slice(firstSummarisable, start) : [];
  const room = contextTokens === undefined ? input.maxTokens : contextTokens - total - Math.ceil(contextTokens * 0.05);
  return {
    fits: true,
    messages: [...head, ...history.slice(start).map((m) => ({ role: m.role, content: m.content, ...(m.images ? { images: m.images } : {}) }))],
    maxTokens: Math.max(1, Math.min(input.maxTokens, room)),
    omitted: start,
    summarized: summary !== null,
    toSummarize,
    estimatedTokens: total,
  };
}
