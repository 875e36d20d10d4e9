'use client';

import { useEffect, useRef, useState } from 'react';
import { useI18n } from '../../i18n/provider';
import { useTRPCClient } from '../../lib/trpc';
import { useToast } from '../toast';
import { useAudioModel } from './voice-input';

/** The longest text one speech request takes (server/gateway/audio.ts MAX_SPEECH_INPUT). */
const MAX_INPUT = 4096;

/**
 * Read-aloud on a reply (issue 16, part 6): the speech deployment speaks the text (through the web role,
 * as the signed-in user) and the browser plays it; pressed again, it stops. Hidden when no audio
 * deployment exists.
 */
export function ReadAloud({ text }: { text: string }) {
  const { t } = useI18n();
  const toast = useToast();
  const client = useTRPCClient();
  const model = useAudioModel();
  const [state, setState] = useState<'idle' | 'loading' | 'playing'>('idle');
  const audio = useRef<HTMLAudioElement | null>(null);
  const url = useRef<string | null>(null);

  useEffect(
    () => () => {
      audio.current?.pause();
      if (url.current) URL.revokeObjectURL(url.current);
    },
    [],
  );

  if (!model || !text.trim()) return null;

  async function play() {
    setState('loading');
    try {
      const spoken = await client.audio.speak.mutate({ model: model!, text: text.slice(0, MAX_INPUT), voice: 'alloy' });
      const bytes = Uint8Array.from(atob(spoken.audio), (c) => c.charCodeAt(0));
      if (url.current) URL.revokeObjectURL(url.current);
      url.current = URL.createObjectURL(new Blob([bytes], { type: spoken.contentType }));
      const element = new Audio(url.current);
      audio.current = element;
      element.onended = () => setState('idle');
      await element.play();
      setState('playing');
    } catch (err) {
      toast.error(err);
      setState('idle');
    }
  }

  function stop() {
    audio.current?.pause();
    setState('idle');
  }

  return (
    <button
      type="button"
      className="text-button"
      disabled={state === 'loading'}
      onClick={() => (state === 'playing' ? stop() : void play())}
      data-testid="read-aloud"
      data-state={state}
    >
      {state === 'playing' ? t('media.stopReading') : t('media.readAloud')}
    </button>
  );
}
