'use client';

import Link from 'next/link';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type KeyboardEvent } from 'react';
import { useI18n } from '../../i18n/provider';
import { readableError } from '../../lib/errors';
import { useTRPC } from '../../lib/trpc';
import { useToast } from '../toast';
import { AnswerColumn } from './answer-column';
import { useArenaRound } from './use-arena-round';
import { VoteBar, voteLabelKey } from './vote-bar';
import './arena.css';

export function ArenaScreen() {
  const { t } = useI18n();
  const toast = useToast();
  const round = useArenaRound();
  const [draft, setDraft] = useState('');
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  // The count is a courtesy (a failure shows nothing): the server enforces the cap whatever this shows.
  const quota = useQuery(trpc.arena.myBattles.queryOptions({ limit: 1 })).data ?? null;
  const loadQuota = () => queryClient.invalidateQueries(trpc.arena.myBattles.pathFilter());

  const streaming = round.phase === 'streaming';
  const capReached = quota !== null && quota.votesToday >= quota.dailyCap;

  function send() {
    const content = draft.trim();
    if (!content || streaming || capReached) return;
    setDraft('');
    void round.start(content);
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
    }
  }

  async function vote(winner: Parameters<typeof round.vote>[0]) {
    try {
      await round.vote(winner);
    } catch (err) {
      toast.show(readableError(err, t), 'error');
    }
    void loadQuota();
  }

  const showComposer = round.phase === 'idle' || round.phase === 'failed' || round.phase === 'stopped';
  return (
    <div className="arena-screen" data-testid="arena" data-phase={round.phase}>
      <header className="chat-header">
        <Link href="/" className="button button-quiet">
          ← {t('arena.backToChat')}
        </Link>
        <h1>⚔ {t('arena.title')}</h1>
        <span className="spacer" />
        <Link href="/leaderboard" className="button" data-testid="arena-leaderboard-link">
          {t('arena.toLeaderboard')}
        </Link>
      </header>
      <div className="arena-scroll">
        <div className="arena-column">
          <p className="muted arena-intro">{t('arena.subtitle')}</p>
          {round.prompt && (
            <div className="arena-prompt" data-testid="arena-prompt">
              {round.prompt}
            </div>
          )}
          {round.phase !== 'idle' && round.phase !== 'failed' && (
            <div className="arena-answers">
              <AnswerColumn side="a" answer={round.answers.a} streaming={streaming} maxTokens={round.maxTokens} result={round.result} />
              <AnswerColumn side="b" answer={round.answers.b} streaming={streaming} maxTokens={round.maxTokens} result={round.result} />
            </div>
          )}
          {(round.phase === 'streaming' || round.phase === 'voting') && <VoteBar enabled={round.phase === 'voting' && round.battleId !== null} busy={round.voting} onVote={(w) => void vote(w)} />}
          {round.phase === 'voted' && round.result && (
            <div className="arena-reveal" data-testid="arena-reveal">
              <p>
                {t('arena.thanks')} <strong>A = {round.result.modelA}</strong>, <strong>B = {round.result.modelB}</strong>
              </p>
              <p className="muted">{t('arena.youChose', { choice: t(voteLabelKey(round.result.winner)) })}</p>
              {round.result.excluded && (
                <p className="form-error" data-testid="arena-excluded">
                  {t('arena.excluded', { reason: round.result.excludedReason ?? '' })}
                </p>
              )}
              <button type="button" className="button button-primary" onClick={round.reset} data-testid="arena-new-round">
                {t('arena.newRound')}
              </button>
            </div>
          )}
          {round.phase === 'stopped' && <p className="muted">{t('arena.stoppedRound')}</p>}
          {round.phase === 'failed' && round.error && (
            <p className="form-error" data-testid="arena-error">
              {round.error.status === 409 ? t('arena.needTwoModels') : round.error.status === 429 ? t('arena.capReached') : t('arena.error', { message: round.error.message })}
            </p>
          )}
        </div>
      </div>
      <div className="composer-dock">
        {(showComposer || streaming) && (
          <div className="composer">
            <textarea
              className="composer-input"
              rows={2}
              placeholder={t('arena.placeholder')}
              aria-label={t('arena.placeholder')}
              value={draft}
              disabled={streaming || capReached}
              onChange={(e) => setDraft(e.target.value)}
              onKeyDown={onKeyDown}
              data-testid="arena-input"
            />
            <div className="composer-bar">
              <span className="muted" data-testid="arena-quota">
                {capReached ? t('arena.capReached') : quota ? t('arena.votesToday', { count: quota.votesToday, cap: quota.dailyCap }) : ''}
              </span>
              <span className="spacer" />
              {streaming ? (
                <button type="button" className="button button-danger" onClick={round.stop} data-testid="arena-stop">
                  ■ {t('arena.stop')}
                </button>
              ) : (
                <button type="button" className="button button-primary" onClick={send} disabled={!draft.trim() || capReached} data-testid="arena-send">
                  {t('arena.send')}
                </button>
              )}
            </div>
          </div>
        )}
      </div>
    </div>
  );
}
