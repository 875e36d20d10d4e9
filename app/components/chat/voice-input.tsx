'use client';

import { useQuery } from '@tanstack/react-query';
import { useRef, useState } from 'react';
import { useI18n } from '../../i18n/provider';
import { useTRPC, useTRPCClient } from '../../lib/trpc';
import { useToast } from '../toast';

/**
 * The audio deployment the chat uses (issue 16, part 6): the first one this user may use with a ready
 * replica, else the first at all; null when none exists, and the microphone and read-aloud stay hidden.
 */
export function useAudioModel(): string | null {
  const trpc = useTRPC();
  const list = useQuery({ ...trpc.audio.deployments.queryOptions(), staleTime: 60_000 }).data ?? [];
  return (list.find((d) => d.ready) ?? list[0])?.name ?? null;
}

/** Inline SVG (no emoji font needed): a microphone. */
function MicIcon() {
  return (
    <svg {...{ width: 16, height: 16, viewBox: '0 0 24 24', fill: 'none', stroke: 'currentColor', strokeWidth: 2, strokeLinecap: 'round', strokeLinejoin: 'round', 'aria-hidden': true } as const}>
      <rect x="9" y="3" width="6" height="11" rx="3" />
      <path d="M5 11a7 7 0 0 0 14 0M12 18v3" />
    </svg>
  );
}

const toBase64 = async (blob: Blob) => {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
};

/**
 * The microphone button: records with MediaRecorder until pressed again, sends the recording to the
 * transcription deployment (through the web role, as the signed-in user) and hands the text to the
 * composer. Hidden when no audio deployment exists.
 */
export function VoiceInput({ onText, disabled }: { onText(text: string): void; disabled?: boolean }) {
  const { t, locale } = useI18n();
  const toast = useToast();
  const client = useTRPCClient();
  const model = useAudioModel();
  const [state, setState] = useState<'idle' | 'recording' | 'transcribing'>('idle');
  const recorder = useRef<MediaRecorder | null>(null);

  if (!model) return null;

  async function start() {
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      toast.show(t('media.noMicrophone', { reason: err instanceof Error ? err.message : String(err) }), 'error');
      return;
    }
    const chunks: Blob[] = [];
    const rec = new MediaRecorder(stream);
    rec.ondataavailable = (e) => e.data.size > 0 && chunks.push(e.data);
    rec.onstop = async () => {
      stream.getTracks().forEach((track) => track.stop());
      const blob = new Blob(chunks, { type: rec.mimeType || 'audio/webm' });
      if (blob.size === 0) return setState('idle');
      setState('transcribing');
      try {
        const { text } = await client.audio.transcribe.mutate({
          model: model!,
          audio: await toBase64(blob),
          mimeType: blob.type.split(';')[0]!,
          language: locale.startsWith('zh') ? 'zh' : undefined,
        });
        if (text) onText(text);
      } catch (err) {
        toast.error(err);
      } finally {
        setState('idle');
      }
    };
    recorder.current = rec;
    rec.start();
    setState('recording');
  }

  const recording = state === 'recording';
  return (
    <button
      type="button"
      className={recording ? 'button button-danger' : 'icon-button'}
      aria-label={recording ? t('media.stopRecording') : state === 'transcribing' ? t('media.transcribing') : t('media.record')}
      title={recording ? t('media.stopRecording') : t('media.record')}
      aria-pressed={recording}
      disabled={disabled || state === 'transcribing'}
      onClick={() => (recording ? recorder.current?.stop() : void start())}
      data-testid="mic"
      data-state={state}
    >
      {recording ? '■' : state === 'transcribing' ? '…' : <MicIcon />}
    </button>
  );
}
