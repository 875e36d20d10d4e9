import { z } from 'zod';
import { audioDeploymentsFor, speak, transcribe } from '../../chat/audio';
import { MAX_SPEECH_INPUT } from '../../gateway/audio';
import { authedProcedure, router } from '../trpc';

/**
 * The chat's voice (issue 16, part 6): which audio deployments the user may use (the UI hides the
 * microphone and read-aloud without one), a recording transcribed, a reply spoken. Both go through the
 * gateway as the signed-in user. A recording travels base64 in one tRPC body (1 MiB at most: about
 * 750 KB of audio, minutes of the browser's Opus).
 */
const MAX_RECORDING_BASE64 = 1_000_000;

export const audioRouter = router({
  deployments: authedProcedure.query(({ ctx }) => audioDeploymentsFor(ctx.db, ctx.user)),
  transcribe: authedProcedure
    .input(
      z.object({
        model: z.string().min(1).max(256),
        audio: z.string().min(1, 'audio is empty').max(MAX_RECORDING_BASE64, 'The recording is too long; record a shorter message').regex(/^[A-Za-z0-9+/]*={0,2}$/, 'audio must be base64'),
        mimeType: z.string().regex(/^audio\/[a-z0-9.+-]+(;.*)?$/i, 'mimeType must be an audio type').max(100),
        language: z.string().regex(/^[a-z]{2,3}$/).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => ({ text: await transcribe(ctx, ctx.user.id, { ...input, audio: Buffer.from(input.audio, 'base64') }) })),
  speak: authedProcedure
    .input(z.object({ model: z.string().min(1).max(256), text: z.string().trim().min(1, 'Nothing to read').max(MAX_SPEECH_INPUT), voice: z.string().min(1).max(128).default('alloy') }))
    .mutation(async ({ ctx, input }) => {
      const { audio, contentType } = await speak(ctx, ctx.user.id, input);
      return { audio: audio.toString('base64'), contentType };
    }),
});
