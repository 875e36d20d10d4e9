'use client';

import { useMutation } from '@tanstack/react-query';
import { useCallback, useEffect, useRef, useState } from 'react';
import { errorStatus, useTRPC, useTRPCClient, type RouterOutputs } from '../../lib/trpc';
import { StreamError } from '../../lib/event-stream';
import { streamArena, type Side } from './arena-stream';

export type VoteResult = RouterOutputs['arena']['vote'];
export type Winner = VoteResult['winner'];

export interface Answer {
  text: string;
  done: boolean;
  failed: boolean;
  stopped: boolean;
  /** Stream pieces so far (about one token each), against the round's maxTokens. */
  pieces: number;
}

/** idle → streaming → voting (both answers stored) → voted; or stopped / failed. */
export type Phase = 'idle' | 'streaming' | 'voting' | 'voted' | 'stopped' | 'failed';

const empty = (): Answer => ({ text: '', done: false, failed: false, stopped: false, pieces: 0 });

/** One arena round in the browser: the prompt, both streaming answers, the vote and the reveal. */
export function useArenaRound() {
  const [phase, setPhase] = useState<Phase>('idle');
  const [prompt, setPrompt] = useState('');
  const [answers, setAnswers] = useState<Record<Side, Answer>>({ a: empty(), b: empty() });
  const [battleId, setBattleId] = useState<string | null>(null);
  const [result, setResult] = useState<VoteResult | null>(null);
  const [error, setError] = useState<{ message: string; status: number } | null>(null);
  const [voting, setVoting] = useState(false);
  const [maxTokens, setMaxTokens] = useState(0);
  const abortRef = useRef<AbortController | null>(null);
  const client = useTRPCClient();
  const trpc = useTRPC();
  const { mutateAsync: sendVote } = useMutation(trpc.arena.vote.mutationOptions());

  const patch = (side: Side, change: (a: Answer) => Answer) => setAnswers((all) => ({ ...all, [side]: change(all[side]) }));

  const start = useCallback(async (content: string) => {
    const controller = new AbortController();
    abortRef.current = controller;
    setPrompt(content);
    setAnswers({ a: empty(), b: empty() });
    setBattleId(null);
    setResult(null);
    setError(null);
    setPhase('streaming');
    try {
      const outcome = await streamArena(
        client,
        { content },
        {
          onMeta: (meta) => setMaxTokens(meta.maxTokens),
          onDelta: (side, text) => patch(side, (a) => ({ ...a, text: a.text + text, pieces: a.pieces + 1 })),
          onSideDone: (side, done) => patch(side, (a) => ({ ...a, done: true, failed: done.failed, stopped: done.stopped })),
          onEnd: (id) => setBattleId(id),
        },
        controller.signal,
      );
      setPhase(outcome === 'aborted' ? 'stopped' : 'voting');
    } catch (err) {
      setError({ message: err instanceof Error ? err.message : String(err), status: err instanceof StreamError ? err.status : (errorStatus(err) ?? 0) });
      setPhase('failed');
    } finally {
      if (abortRef.current === controller) abortRef.current = null;
    }
  }, [client]);

  const vote = useCallback(
    async (winner: Winner) => {
      if (!battleId || voting) return;
      setVoting(true);
      try {
        setResult(await sendVote({ battleId, winner }));
        setPhase('voted');
      } finally {
        setVoting(false);
      }
    },
    [battleId, voting, sendVote],
  );

  const reset = useCallback(() => {
    abortRef.current?.abort();
    setPhase('idle');
    setPrompt('');
    setAnswers({ a: empty(), b: empty() });
    setBattleId(null);
    setResult(null);
    setError(null);
  }, []);

  const stop = useCallback(() => abortRef.current?.abort(), []);
  // Leaving the page mid-round stops it; the server keeps what was said, marked stopped.
  useEffect(() => () => abortRef.current?.abort(), []);

  return { phase, prompt, answers, maxTokens, battleId, result, error, voting, start, vote, reset, stop };
}
