'use client';

import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { useI18n } from '../../i18n/provider';
import { useToast } from '../toast';
import { useTRPC } from '../../lib/trpc';
import { ThumbIcon } from './thumb-icon';
import './feedback.css';

/** Thumbs up / down on a reply; pressing the chosen one again clears it. Shown state is what the server kept. */
export function FeedbackButtons({ messageId, initial }: { messageId: string; initial: unknown }) {
  const { t } = useI18n();
  const toast = useToast();
  const [rating, setRating] = useState<number>(initial === 1 || initial === -1 ? initial : 0);
  const trpc = useTRPC();
  const feedback = useMutation(trpc.experiments.feedback.mutationOptions({ onSuccess: (_, { rating }) => setRating(rating), onError: (err) => toast.error(err) }));
  const busy = feedback.isPending;

  function rate(value: 1 | -1) {
    feedback.mutate({ messageId, rating: rating === value ? 0 : value });
  }

  return (
    <span className="feedback-buttons" data-testid="feedback" data-rating={rating}>
      <button type="button" className="text-button" aria-pressed={rating === 1} disabled={busy} onClick={() => void rate(1)} title={t('experiments.thumbsUp')} aria-label={t('experiments.thumbsUp')} data-testid="thumbs-up">
        <ThumbIcon up filled={rating === 1} />
      </button>
      <button type="button" className="text-button" aria-pressed={rating === -1} disabled={busy} onClick={() => void rate(-1)} title={t('experiments.thumbsDown')} aria-label={t('experiments.thumbsDown')} data-testid="thumbs-down">
        <ThumbIcon up={false} filled={rating === -1} />
      </button>
    </span>
  );
}
