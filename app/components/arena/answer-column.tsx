'use client';

import { useI18n } from '../../i18n/provider';
import { ProgressBar } from '../charts/progress-bar';
import { Markdown } from '../chat/markdown';
import type { Side } from './arena-stream';
import type { Answer, VoteResult } from './use-arena-round';

/** One side of the round: "Model A"/"Model B" until the vote, then the model's name as well. */
export function AnswerColumn({ side, answer, streaming, maxTokens, result }: { side: Side; answer: Answer; streaming: boolean; maxTokens: number; result: VoteResult | null }) {
  const { t } = useI18n();
  const name = result ? (side === 'a' ? result.modelA : result.modelB) : null;
  return (
    <section className={`arena-answer card${result?.winner === side ? ' arena-answer-won' : ''}`} data-testid={`arena-answer-${side}`}>
      <header className="arena-answer-head">
        <strong>{side === 'a' ? t('arena.modelA') : t('arena.modelB')}</strong>
        {name && (
          <span className="arena-model-name" data-testid={`arena-name-${side}`}>
            {name}
          </span>
        )}
        {result?.winner === side && <span className="badge arena-badge-won">{t('arena.winner')}</span>}
      </header>
      {streaming && !answer.done && maxTokens > 0 && (
        <ProgressBar value={answer.pieces / maxTokens} label={t('arena.writing')} detail={t('arena.tokens', { count: answer.pieces, max: maxTokens })} testId={`arena-progress-${side}`} />
      )}
      <div className="arena-answer-body" data-testid={`arena-text-${side}`}>
        {answer.text ? <Markdown text={answer.text} /> : streaming && !answer.done ? <p className="muted">{t('arena.waiting')}</p> : null}
        {streaming && !answer.done && answer.text && <span className="cursor" aria-hidden />}
        {answer.failed && <p className="form-error">{t('arena.answerFailed')}</p>}
        {answer.stopped && <p className="muted">{t('arena.answerStopped')}</p>}
      </div>
    </section>
  );
}
