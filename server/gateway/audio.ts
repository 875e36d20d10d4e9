import { exceedsJsonDepth, MAX_JSON_DEPTH } from '../core/json-input';
import { GatewayError } from './errors';

/**
 * The audio endpoints (issue 16, part 6), as OpenAI and vLLM define them:
 * - POST /v1/audio/transcriptions: a multipart form (file, model, language, prompt, response_format,
 *   temperature), answered with the text (a Whisper-style model; vLLM serves them).
 * - POST /v1/audio/speech: JSON (model, input, voice, response_format, speed), answered with audio bytes.
 * Routed only to deployments that declare `audio`, keyed, quota'd and logged like chat (request_logs rows
 * hold no content). Their prompt tokens, for quotas, are estimated here (audioTokens, speechTokens): the
 * engine's own count is charged when it reports a higher one.
 */
export const TRANSCRIPTIONS = '/v1/audio/transcriptions';
export const SPEECH = '/v1/audio/speech';
export const AUDIO_PATHS: ReadonlySet<string> = new Set([TRANSCRIPTIONS, SPEECH]);

/** OpenAI's cap on one speech request's input. */
export const MAX_SPEECH_INPUT = 4096;
const RESPONSE_FORMATS = new Set(['json', 'text', 'srt', 'verbose_json', 'vtt']);
const SPEECH_FORMATS = new Set(['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm']);

/** A checked audio request: the model asked for, and what to send (with the model named for the engine by `bodyFor`). */
export interface AudioRequest {
  model: string;
  /** For speech: the parsed JSON (screened by data protection like a prompt). */
  json: Record<string, unknown> | null;
  /** For transcription: the form, rebuilt for the engine with its model name. */
  form: FormData | null;
  /** Prompt tokens charged at least (audioTokens / speechTokens). */
  estimatedTokens: number;
}

function bad(param: string | null, message: string, code = 'invalid_value'): GatewayError {
  return new GatewayError(400, 'invalid_request_error', code, message, param);
}

function modelOf(v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 256 || v.includes('\u0000') || !v.isWellFormed())
    throw bad('model', "Invalid value for 'model': expected a model name (1 to 256 characters)");
  return v;
}

/** The audio container by its first bytes (the formats OpenAI's transcription accepts); null: none of them. */
export function sniffAudio(b: Uint8Array): string | null {
  const s = (from: number, to: number) => Buffer.from(b.subarray(from, to)).toString('latin1');
  if (b.length >= 12 && s(0, 4) === 'RIFF' && s(8, 12) === 'WAVE') return 'wav';
  if (b.length >= 4 && s(0, 4) === 'fLaC') return 'flac';
  if (b.length >= 4 && s(0, 4) === 'OggS') return 'ogg';
  if (b.length >= 4 && b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return 'webm';
  if (b.length >= 8 && s(4, 8) === 'ftyp') return 'mp4';
  if (b.length >= 3 && s(0, 3) === 'ID3') return 'mp3';
  if (b.length >= 2 && b[0] === 0xff && (b[1]! & 0xe0) === 0xe0) return 'mp3';
  return null;
}

/**
 * Seconds of audio: exact for PCM WAV (its header's byte rate), else estimated at 128 kbit/s (a typical
 * compressed recording; a browser's Opus recording is smaller, so it is over- rather than under-counted).
 */
export function audioSeconds(container: string, b: Uint8Array): number {
  if (container === 'wav' && b.length >= 44) {
    const byteRate = Buffer.from(b.buffer, b.byteOffset, b.length).readUInt32LE(28);
    if (byteRate > 0) return Math.max(0, b.length - 44) / byteRate;
  }
  return b.length / 16_000;
}

/** Quota tokens for transcribing audio: 10 per second (a minute costs as much as ~450 words of text), at least 1. */
export const audioTokens = (seconds: number) => Math.max(1, Math.ceil(seconds * 10));
/** Quota tokens for speaking text: one per 4 characters of input, as text is usually counted. */
export const speechTokens = (input: string) => Math.max(1, Math.ceil(input.length / 4));

export async function parseTranscription(raw: Buffer, contentType: string | undefined, maxAudioBytes: number): Promise<AudioRequest> {
  if (!contentType || !/^multipart\/form-data\s*;\s*boundary=/i.test(contentType))
    throw bad(null, 'Send /v1/audio/transcriptions as multipart/form-data with the fields file and model', 'invalid_body');
  let form: FormData;
  try {
    form = await new Response(new Uint8Array(raw.buffer as ArrayBuffer, raw.byteOffset, raw.length), { headers: { 'content-type': contentType } }).formData();
  } catch {
    throw bad(null, 'The request body is not a valid multipart form', 'invalid_body');
  }
  const model = modelOf(form.get('model'));
  const file = form.get('file');
  if (!file || typeof file === 'string') throw bad('file', "Invalid value for 'file': expected an audio file (flac, mp3, mp4, m4a, ogg, wav or webm)");
  if (file.size === 0) throw bad('file', 'The audio file is empty');
  if (file.size > maxAudioBytes) throw new GatewayError(413, 'invalid_request_error', 'audio_too_large', `The audio file is ${file.size} bytes; at most ${maxAudioBytes}`, 'file');
  const bytes = new Uint8Array(await file.arrayBuffer());
  const container = sniffAudio(bytes);
  if (!container) throw bad('file', 'The file is not audio Enclave accepts (flac, mp3, mp4, m4a, ogg, wav or webm, judged by its bytes)', 'unsupported_audio_type');
  const language = form.get('language');
  if (language !== null && (typeof language !== 'string' || !/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$/.test(language)))
    throw bad('language', "Invalid value for 'language': expected an ISO-639 code such as 'en' or 'de'");
  const format = form.get('response_format');
  if (format !== null && (typeof format !== 'string' || !RESPONSE_FORMATS.has(format)))
    throw bad('response_format', `Invalid value for 'response_format': expected one of ${[...RESPONSE_FORMATS].join(', ')}`);
  const temperature = form.get('temperature');
  if (temperature !== null && (typeof temperature !== 'string' || !(Number(temperature) >= 0 && Number(temperature) <= 1)))
    throw bad('temperature', "Invalid value for 'temperature': expected a number from 0 to 1");
  if (form.get('stream') === 'true') throw bad('stream', 'Streamed transcriptions are not supported');
  return { model, json: null, form, estimatedTokens: audioTokens(audioSeconds(container, bytes)) };
}

export function parseSpeech(raw: Buffer): AudioRequest {
  if (exceedsJsonDepth(raw)) throw bad(null, `The request body nests deeper than ${MAX_JSON_DEPTH} levels`, 'invalid_body');
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    throw bad(null, 'The request body is not valid JSON', 'invalid_json');
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw bad(null, 'The request body must be a JSON object', 'invalid_body');
  const o = json as Record<string, unknown>;
  const model = modelOf(o.model);
  if (typeof o.input !== 'string' || o.input.length === 0 || o.input.length > MAX_SPEECH_INPUT)
    throw bad('input', `Invalid value for 'input': expected the text to speak (1 to ${MAX_SPEECH_INPUT} characters)`);
  if (typeof o.voice !== 'string' || o.voice.length === 0 || o.voice.length > 128) throw bad('voice', "Invalid value for 'voice': expected a voice name such as 'alloy'");
  if (o.response_format !== undefined && (typeof o.response_format !== 'string' || !SPEECH_FORMATS.has(o.response_format)))
    throw bad('response_format', `Invalid value for 'response_format': expected one of ${[...SPEECH_FORMATS].join(', ')}`);
  if (o.speed !== undefined && (typeof o.speed !== 'number' || !(o.speed >= 0.25 && o.speed <= 4))) throw bad('speed', "Invalid value for 'speed': expected a number from 0.25 to 4");
  if (o.stream_format !== undefined && o.stream_format !== 'audio') throw bad('stream_format', "Only 'audio' is supported");
  return { model, json: o, form: null, estimatedTokens: speechTokens(o.input) };
}

/** The multipart body for the engine, naming the model it serves (a fresh boundary: the form is rebuilt). */
export async function formBody(form: FormData, engineModel: string): Promise<{ body: Buffer; contentType: string }> {
  form.set('model', engineModel);
  const encoded = new Response(form);
  return { body: Buffer.from(await encoded.arrayBuffer()), contentType: encoded.headers.get('content-type')! };
}

/** The 400 for an audio request to a deployment that does not declare audio. */
export function audioRefusal(deployment: string, path: string): GatewayError {
  return new GatewayError(
    400,
    'invalid_request_error',
    'audio_not_supported',
    `The deployment '${deployment}' does not serve ${path} (it is not marked as an audio model). Choose a speech-to-text or text-to-speech deployment; an admin can mark one as audio-capable in its gateway settings.`,
    'model',
  );
}
