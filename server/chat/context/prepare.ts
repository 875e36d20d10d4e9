import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { deployments } from '../../db/schema';
import { DomainError } from '../../core/errors';
import { declaredContextTokens } from '../../core/declared-context';
import { completeOnce, openCompletionStream } from '../gateway-client';
import type { ChatMessage } from '../messages';
import { planContext, type ContextPolicy, type HistoryMessage } from './fit';
import { Summaries } from './summaries';
import { contextWindows, parseContextRefusal } from './windows';

export interface FitDeps {
  db: Db;
  masterKey: Buffer;
  gatewayUrl: string;
}

export interface TurnContext {
  conversationId: string;
  policy: ContextPolicy;
  turns: number | null;
  systemPrompt?: string;
  model: string;
  maxTokens: number;
  temperature?: number;
  topP?: number;
  classification: { level: number; conversationId: string };
  /** OpenAI `tools` offered on this turn (the plugins granted to the user). */
  tools?: unknown[];
}

/** What the reply records of the fitting (message metadata: counts only, never content). */
export interface FitOutcome {
  omitted: number;
  summarized: boolean;
  /** A summary was written for this turn (the thread has a new marker to show). */
  newSummary: boolean;
  policy: ContextPolicy;
  /** Characters of the prompt's text; null when it held images, whose tokens say nothing of the text's ratio. */
  promptChars: number | null;
}

/** The size a deployment declares for its model, when its spec sets one. */
async function declaredContext(db: Db, model: string): Promise<number | undefined> {
  const [row] = await db.select({ spec: deployments.spec }).from(deployments).where(eq(deployments.name, model)).limit(1);
  return declaredContextTokens(row?.spec);
}

const SUMMARY_WORDS = 120;

/** A summary's transcript marks each image a message held (the summarising model is sent text only). */
const imageMarks = (m: HistoryMessage) => (m.images?.length ? `${m.images.map(() => '[image]').join(' ')} ` : '');

/** The model's own summary of `older` (after an earlier summary, if any), its transcript cut from the front to fit. */
async function summarise(deps: FitDeps, userId: string, turn: TurnContext, older: HistoryMessage[], previous: string | null, signal: AbortSignal): Promise<string> {
  const window = contextWindows.get(turn.model);
  const contextTokens = window.tokens ?? 2048;
  const maxTokens = Math.min(200, Math.floor(contextTokens / 4));
  const instruction = `Summarise the conversation below in at most ${SUMMARY_WORDS} words. Keep names, numbers, decisions and open questions. Write in the conversation's own language.`;
  const roomChars = Math.floor((contextTokens - maxTokens - Math.ceil(contextTokens * 0.1) - 48) * window.charsPerToken) - instruction.length;
  let transcript = `${previous ? `Earlier summary: ${previous}\n\n` : ''}${older.map((m) => `${m.role === 'user' ? 'User' : 'Assistant'}: ${imageMarks(m)}${m.content}`).join('\n')}`;
  if (transcript.length > roomChars) transcript = `…${transcript.slice(transcript.length - Math.max(0, roomChars))}`;
  const { text } = await completeOnce({
    ...deps,
    userId,
    signal,
    classification: turn.classification,
    request: { model: turn.model, maxTokens, temperature: 0.2, messages: [{ role: 'user', content: `${instruction}\n\n${transcript}` }] },
  });
  const clean = text.trim();
  if (!clean) throw new Error('the model wrote an empty summary');
  return clean;
}

/**
 * Opens the turn's stream with a history that fits the model's context (see fit.ts): summarises what no
 * longer fits when the policy says so, and when the engine still refuses the prompt as too long, learns
 * the size from its answer and fits again (at most twice). A message that cannot fit on its own is
 * refused with what to do; nothing is saved for it (the composer keeps the text).
 */
export async function openFittedStream(deps: FitDeps, userId: string, turn: TurnContext, branch: ChatMessage[], signal: AbortSignal) {
  // The deployment's spec is read once per model: a size it declared, or one an engine has told since, is remembered.
  if (contextWindows.get(turn.model).tokens === undefined) contextWindows.declare(turn.model, await declaredContext(deps.db, turn.model));
  // A failed, empty assistant turn carries nothing the model should see.
  const history: HistoryMessage[] = branch.filter((m) => m.content.length > 0 || (m.images?.length ?? 0) > 0).map((m) => ({ id: m.id, role: m.role, content: m.content, ...(m.images?.length ? { images: m.images } : {}) }));
  const summaries = new Summaries(deps.db, deps.masterKey, userId);
  let policy = turn.policy;
  let summariesWritten = 0;
  for (let refusals = 0; ; ) {
    const summary = policy === 'summarize' ? await summaries.deepestOn(turn.conversationId, history.map((m) => m.id).filter(Boolean)) : null;
    const plan = planContext({ history, systemPrompt: turn.systemPrompt, summary, policy, turns: turn.turns, window: contextWindows.get(turn.model), maxTokens: turn.maxTokens });
    if (!plan.fits) {
      const room = Math.max(0, plan.room);
      throw new DomainError(
        'BAD_REQUEST',
        `This message is about ${plan.latestTokens} tokens, but the model '${turn.model}' has room for about ${room} with its reply (its context holds ${plan.contextTokens} tokens). Shorten the message, lower Max tokens in the settings, or choose a model with a longer context.`,
      );
    }
    if (plan.toSummarize.length > 0 && summariesWritten < 2) {
      try {
        const text = await summarise(deps, userId, turn, plan.toSummarize, summary?.text ?? null, signal);
        await summaries.add({
          conversationId: turn.conversationId,
          throughMessageId: plan.toSummarize.at(-1)!.id,
          covered: (summary ? summary.covered : 0) + plan.toSummarize.length,
          text,
          model: turn.model,
        });
        summariesWritten++;
        continue;
      } catch (e) {
        if (signal.aborted) throw e;
        // The turn still goes out: older turns are left out this time instead (the reply's marker says so).
        policy = 'trim';
        continue;
      }
    }
    const withImages = plan.messages.some((m) => 'images' in m && (m.images?.length ?? 0) > 0);
    const promptChars = withImages ? null : plan.messages.reduce((n, m) => n + m.content.length, 0);
    try {
      const stream = await openCompletionStream({
        ...deps,
        userId,
        signal,
        request: { model: turn.model, messages: plan.messages, maxTokens: plan.maxTokens, temperature: turn.temperature, topP: turn.topP, tools: turn.tools },
        classification: turn.classification,
      });
      // The prompt as sent, so tool rounds can continue it with the calls and their results.
      return { stream, messages: plan.messages, maxTokens: plan.maxTokens, fit: { omitted: plan.omitted, summarized: plan.summarized, newSummary: summariesWritten > 0, policy, promptChars } satisfies FitOutcome };
    } catch (e) {
      const refusal = e instanceof DomainError && e.status === 400 ? parseContextRefusal(e.message) : null;
      if (!refusal || refusals >= 2) throw e;
      refusals++;
      // With images the engine's count includes theirs: its context is learnt, not the text's ratio.
      contextWindows.refused(turn.model, promptChars === null ? { ...refusal, promptTokens: undefined } : refusal, promptChars ?? 0);
    }
  }
}
