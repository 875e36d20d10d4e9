import { z } from 'zod';

// The trainer protocol: trainers/*.py (and the trainer double) print one JSON
// object per line on stdout. Anything else a trainer prints (library warnings,
// tracebacks, progress bars) must still reach the job's log, so a line that is not
// a known event becomes a `log` event rather than an error: a chatty library must
// never fail a job that is training fine.

const num = z.number().finite();
// Trainers print null for a figure the framework did not report on that step.
const optNum = num.nullable().optional();

export const stepEvent = z.object({
  event: z.literal('step'),
  step: z.number().int().nonnegative(),
  total_steps: z.number().int().positive(),
  loss: optNum,
  learning_rate: optNum,
  grad_norm: optNum,
  epoch: optNum,
  tokens_per_second: optNum,
  // quantize.py reports stages (load, quantize, save...) as steps and names them.
  stage: z.string().optional(),
});

// Eval carries eval_loss for fine-tunes and perplexity_before/after for quantization;
// other metrics pass through so the UI can show what the trainer measured.
export const evalEvent = z
  .object({
    event: z.literal('eval'),
    step: z.number().int().nonnegative().optional(),
    eval_loss: optNum,
    perplexity_before: optNum,
    perplexity_after: optNum,
  })
  .catchall(z.unknown());

export const checkpointEvent = z.object({
  event: z.literal('checkpoint'),
  path: z.string().min(1),
  step: z.number().int().nonnegative().optional(),
});

export const doneEvent = z
  .object({
    event: z.literal('done'),
    adapter_path: z.string().min(1).optional(),
    output_path: z.string().min(1).optional(),
  })
  .refine((e) => e.adapter_path !== undefined || e.output_path !== undefined, {
    message: 'done needs adapter_path or output_path',
  });

export const errorEvent = z.object({ event: z.literal('error'), message: z.string() });

export const trainerEvent = z.union([stepEvent, evalEvent, checkpointEvent, doneEvent, errorEvent]);

export type StepEvent = z.infer<typeof stepEvent>;
export type EvalEvent = z.infer<typeof evalEvent>;
export type CheckpointEvent = z.infer<typeof checkpointEvent>;
export type DoneEvent = z.infer<typeof doneEvent>;
export type ErrorEvent = z.infer<typeof errorEvent>;
export type LogEvent = { event: 'log'; line: string; reason?: string };
export type TrainerEvent = StepEvent | EvalEvent | CheckpointEvent | DoneEvent | ErrorEvent | LogEvent;

const schemas = {
  step: stepEvent,
  eval: evalEvent,
  checkpoint: checkpointEvent,
  done: doneEvent,
  error: errorEvent,
} as const;

/** One line (without its newline) → one event; never throws. */
export function parseTrainerLine(raw: string): TrainerEvent | null {
  const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  if (line.trim() === '') return null;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { event: 'log', line };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { event: 'log', line };
  const name = (value as { event?: unknown }).event;
  // Trainers may say something for the log on purpose; keep their message, not the JSON.
  const message = (value as { message?: unknown }).message;
  if (name === 'log' && typeof message === 'string') return { event: 'log', line: message };
  if (typeof name !== 'string' || !(name in schemas)) {
    return { event: 'log', line, reason: `unknown event ${JSON.stringify(name ?? null)}` };
  }
  const parsed = schemas[name as keyof typeof schemas].safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : name;
    return { event: 'log', line, reason: `malformed ${name} event: ${where}: ${issue?.message ?? 'invalid'}` };
  }
  return parsed.data as TrainerEvent;
}

/**
 * Streaming parser: feed stdout chunks as they arrive (a line may be split across
 * chunks, and a chunk may split a multi-byte character, hence the TextDecoder in
 * stream mode); call end() when the process closes to flush a last unterminated line.
 */
export class TrainerStreamParser {
  private buffer = '';
  private readonly decoder = new TextDecoder('utf-8');

  push(chunk: string | Uint8Array): TrainerEvent[] {
    this.buffer += typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    const events: TrainerEvent[] = [];
    let newline = this.buffer.indexOf('\n');
    while (newline !== -1) {
      const event = parseTrainerLine(this.buffer.slice(0, newline));
      if (event) events.push(event);
      this.buffer = this.buffer.slice(newline + 1);
      newline = this.buffer.indexOf('\n');
    }
    return events;
  }

  end(): TrainerEvent[] {
    const rest = this.buffer + this.decoder.decode();
    this.buffer = '';
    const event = parseTrainerLine(rest);
    return event ? [event] : [];
  }
}

/** Parses a whole recorded output at once (tests, replaying a stored log). */
export function parseTrainerOutput(text: string): TrainerEvent[] {
  const parser = new TrainerStreamParser();
  return [...parser.push(text), ...parser.end()];
}

/**
 * Seconds left, assuming the remaining steps run at the rate seen in this run.
 * `stepsSeen` is the last step reported, `totalSteps` the run's total_steps,
 * `elapsedSeconds` the time since this process started. After a resume the steps
 * restored from a checkpoint took no time here, so pass the step it resumed from as
 * `startStep` or the ETA would come out far too short. Null while there is nothing
 * to extrapolate from.
 */
export function etaSeconds(stepsSeen: number, totalSteps: number, elapsedSeconds: number, startStep = 0): number | null {
  if (![stepsSeen, totalSteps, elapsedSeconds, startStep].every(Number.isFinite)) return null;
  if (stepsSeen >= totalSteps) return 0;
  const done = stepsSeen - startStep;
  if (done <= 0 || elapsedSeconds < 0) return null;
  return (elapsedSeconds / done) * (totalSteps - stepsSeen);
}
