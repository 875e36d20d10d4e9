import fs from 'node:fs';
import path from 'node:path';
import { errorMessage, log } from '../../core/log';
import { trainerCommand, trainerInvocation, type TrainerConfig } from '../../lifecycle/finetune/command';
import { prepareTrainerInputs, type TrainerInput } from '../../lifecycle/jobs/inputs';
import type { TrainerAssignment, TrainerReport } from '../../lifecycle/jobs/remote';
import { REPORT_MAX_BYTES } from '../../lifecycle/jobs/remote';
import { fileSize, jobWorkspace, prepareWorkspace, removeDatasetCopies, type JobWorkspace } from '../../lifecycle/jobs/workspace';
import { localModelPath } from '../../artifacts/model-cache';
import { adoptProcess, goneProcess, isProcessOf, spawnDetached, type DetachedProcess } from '../../process/detached-process';
import type { ProcessExit } from '../../process/engine-process';

/** What the runner needs from the control plane (control-client.ts speaks it over HTTPS). */
export interface TrainerJobClient {
  assignments(): Promise<TrainerAssignment[]>;
  /** Writes a job's input to `outPath` (mode 0600); resolves its row count. */
  download(jobId: string, input: TrainerInput, outPath: string): Promise<number>;
  report(jobId: string, report: TrainerReport): Promise<{ offset: number; cancel: boolean }>;
  /**
   * Sends an output directory to the control plane before a successful exit is reported (a joined agent:
   * the control plane seals it into the artifact store, output-upload.ts). Unset for an agent sharing the
   * database, whose report settles the exit on this host, where the outputs are sealed directly.
   */
  uploadOutput?(jobId: string, attempt: number, kind: string, dir: string): Promise<string>;
  /** A job's base artifact (or one of its files) as plaintext, for a host that lacks the base at its location. */
  openBase?(jobId: string, key: string): Promise<NodeJS.ReadableStream | AsyncIterable<Uint8Array>>;
}

interface Run {
  jobId: string;
  kind: TrainerAssignment['kind'];
  attempt: number;
  /** The outputs went to the control plane (once per attempt, before its exit is reported). */
  outputsSent?: boolean;
  ws: JobWorkspace;
  proc: DetachedProcess;
  exit?: ProcessExit;
  /** Log bytes the control plane has counted; null after a failed report (taken again from the next listing). */
  sent: number | null;
  pidSent: boolean;
  stopping: boolean;
  lastReport: number;
}

/** What this host started for a job (agent-state.json in its workspace), so a later agent can adopt it. */
type AgentState = { attempt: number; pid: number };

function readState(file: string): AgentState | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as AgentState;
  } catch {
    return undefined; // never started here
  }
}

/**
 * The agent's half of remote trainers (the control plane's is lifecycle/jobs/remote.ts). Each sync: list
 * this node's jobs; start a trainer for a new attempt (inputs downloaded into the job's workspace, the
 * process detached, its attempt and pid kept in agent-state.json), or adopt the one a previous agent
 * started; report each trainer's new log bytes (whole lines; everything once it has exited); stop a
 * trainer whose job asks for a cancel or is no longer this node's. Stopping the agent leaves trainers
 * running: the next agent adopts them by pid and reports from the offset the control plane counted.
 */
export function createTrainerRunner(opts: { client: TrainerJobClient; dataDir: string; trainer: TrainerConfig; pollMs?: number; stopGraceMs?: number; idleReportMs?: number }) {
  const runs = new Map<string, Run>();
  const stopGraceMs = opts.stopGraceMs ?? 10_000;
  const idleReportMs = opts.idleReportMs ?? 5_000;
  const statePath = (ws: JobWorkspace) => path.join(ws.dir, 'agent-state.json');

  function track(a: TrainerAssignment, ws: JobWorkspace, proc: DetachedProcess, sent: number): Run {
    const run: Run = { jobId: a.jobId, kind: a.kind, attempt: a.attempt, ws, proc, sent, pidSent: false, stopping: false, lastReport: 0 };
    void proc.exited.then((e) => (run.exit = e));
    runs.set(a.jobId, run);
    return run;
  }

  async function begin(a: TrainerAssignment): Promise<Run | undefined> {
    const ws = jobWorkspace(opts.dataDir, a.jobId);
    prepareWorkspace(ws);
    const state = readState(statePath(ws));
    if (state && state.attempt === a.attempt) {
      // Started by an earlier agent: adopt it if it still runs (pid reused by something else does not
      // count), else report what its log holds and its end.
      const ours = isProcessOf(state.pid, a.jobId);
      log.info(ours ? 'trainer adopted' : 'trainer found gone', { job: a.jobId, pid: state.pid });
      return track(a, ws, ours ? adoptProcess(state.pid, ws.log, opts.pollMs) : goneProcess(state.pid, ws.log), a.logOffset);
    }
    try {
      const inputs = await prepareTrainerInputs(a, ws, (input, out) => opts.client.download(a.jobId, input, out));
      // A base produced on another host (a merged model) comes through this host's model cache.
      const openBase = opts.client.openBase;
      const baseModel = a.baseArtifact && openBase ? await localModelPath(opts.dataDir, (key) => openBase(a.jobId, key), a.baseLocation, a.baseArtifact) : a.baseLocation;
      const { script, args } = trainerInvocation(a, { ...inputs, baseModel, outputDir: ws.output, resumeFrom: a.resumeFrom ?? undefined });
      // The control plane counts this log from logOffset: a log shorter than that (a wiped workspace) is
      // padded with blank lines, which the protocol ignores, so offsets keep meaning the same bytes.
      const size = fileSize(ws.log);
      if (size < a.logOffset) fs.appendFileSync(ws.log, Buffer.alloc(a.logOffset - size, 0x0a), { mode: 0o600 });
      const proc = spawnDetached({ ...trainerCommand(script, args, opts.trainer), env: { CUDA_VISIBLE_DEVICES: a.gpuIndices.join(',') } }, ws.log);
      fs.writeFileSync(statePath(ws), JSON.stringify({ attempt: a.attempt, pid: proc.pid } satisfies AgentState), { mode: 0o600 });
      log.info('trainer started', { job: a.jobId, attempt: a.attempt, pid: proc.pid });
      return track(a, ws, proc, Math.max(a.logOffset, size));
    } catch (e) {
      removeDatasetCopies(ws);
      await opts.client.report(a.jobId, { attempt: a.attempt, offset: a.logOffset, data: '', error: errorMessage(e) }).catch((r) => log.warn('could not report a trainer that did not start', { job: a.jobId, error: errorMessage(r) }));
      return undefined;
    }
  }

  /** Sends what the log holds past the counted offset; the exit (once the trainer is gone) with its last bytes. */
  async function report(run: Run, a: TrainerAssignment): Promise<void> {
    if (run.sent === null) run.sent = a.logOffset;
    for (;;) {
      // Read after noting the exit: only then is everything it printed already in the file.
      const exit = run.exit;
      const size = fileSize(run.ws.log);
      const length = Math.min(size - run.sent, REPORT_MAX_BYTES);
      let bytes = length > 0 ? readAt(run.ws.log, run.sent, length) : Buffer.alloc(0);
      const last = exit !== undefined && run.sent + bytes.length >= size;
      if (!last) {
        // Whole lines only: each report is parsed on its own. A line still being written waits for its
        // newline; one longer than a whole report (never the protocol's) goes in pieces.
        const newline = bytes.lastIndexOf(10);
        if (newline >= 0) bytes = bytes.subarray(0, newline + 1);
        else if (bytes.length < REPORT_MAX_BYTES) bytes = bytes.subarray(0, 0);
      }
      if (!last && bytes.length === 0 && run.pidSent && Date.now() - run.lastReport < idleReportMs) return;
      // A trainer that finished: its outputs first, so the exit's settling finds them in the store.
      if (last && exit!.code === 0 && !run.outputsSent && opts.client.uploadOutput) {
        await uploadOutputs(run);
        run.outputsSent = true;
      }
      const answer = await opts.client.report(run.jobId, {
        attempt: run.attempt,
        offset: run.sent,
        data: bytes.toString('base64'),
        ...(run.pidSent ? {} : { pid: run.proc.pid, logPath: run.ws.log }),
        ...(last ? { exit: exit! } : {}),
      });
      run.sent = answer.offset;
      run.pidSent = true;
      run.lastReport = Date.now();
      if (answer.cancel && !run.stopping && !exit) {
        run.stopping = true;
        log.info('trainer cancel requested: stopping it', { job: run.jobId });
        void run.proc.stop(stopGraceMs);
      }
      if (last) return finish(run);
      // More than one report's worth was waiting: go on until it is all sent.
      if (bytes.length === 0) return;
    }
  }

  /** The directories a finished trainer leaves (lora_sft.py: adapter/, merged/; quantize.py: the output directory itself). */
  async function uploadOutputs(run: Run): Promise<void> {
    const dirs: [string, string][] = run.kind === 'finetune' ? [['adapter', path.join(run.ws.output, 'adapter')], ['merged', path.join(run.ws.output, 'merged')]] : [['quantized', run.ws.output]];
    for (const [kind, dir] of dirs) {
      if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) continue;
      const key = await opts.client.uploadOutput!(run.jobId, run.attempt, kind, dir);
      log.info('trainer output sent to the control plane', { job: run.jobId, kind, key });
    }
  }

  /** The attempt is over here: plaintext inputs go (the log and outputs stay). */
  function finish(run: Run): void {
    run.proc.release();
    removeDatasetCopies(run.ws);
    fs.rmSync(statePath(run.ws), { force: true });
    runs.delete(run.jobId);
  }

  /**
   * Trainers an earlier agent left running for jobs that ended meanwhile (failed for silence, cancelled
   * while no agent listened): nobody else would stop them, and they hold GPUs. Checked once, at start.
   */
  async function stopOrphans(assigned: Map<string, TrainerAssignment>): Promise<void> {
    const root = path.join(opts.dataDir, 'jobs');
    for (const jobId of fs.existsSync(root) ? fs.readdirSync(root) : []) {
      if (assigned.has(jobId) || runs.has(jobId)) continue;
      const ws = jobWorkspace(opts.dataDir, jobId);
      const state = readState(statePath(ws));
      if (!state) continue;
      if (isProcessOf(state.pid, jobId)) {
        log.info('stopping a trainer whose job is no longer this node\'s', { job: jobId, pid: state.pid });
        await adoptProcess(state.pid, ws.log, opts.pollMs).stop(stopGraceMs);
      }
      removeDatasetCopies(ws);
      fs.rmSync(statePath(ws), { force: true });
    }
  }

  let checkedOrphans = false;
  return {
    runs,
    async sync(): Promise<void> {
      const assigned = await opts.client.assignments();
      const byId = new Map(assigned.map((a) => [a.jobId, a]));
      if (!checkedOrphans) {
        checkedOrphans = true;
        await stopOrphans(byId);
      }
      for (const run of [...runs.values()]) {
        const a = byId.get(run.jobId);
        if (a && a.attempt === run.attempt) continue;
        // Not this node's any more (cancelled or failed while we could not report), or a later attempt.
        log.info('trainer no longer assigned here: stopping it', { job: run.jobId, attempt: run.attempt });
        await run.proc.stop(stopGraceMs);
        finish(run);
      }
      for (const a of assigned) {
        const run = runs.get(a.jobId) ?? (await begin(a));
        if (!run) continue;
        if (a.cancelRequested && !run.stopping && !run.exit) {
          run.stopping = true;
          void run.proc.stop(stopGraceMs);
        }
        try {
          await report(run, a);
        } catch (e) {
          // Counted offset unknown now: take it from the next listing.
          run.sent = null;
          log.warn('trainer report failed', { job: run.jobId, error: errorMessage(e) });
        }
      }
    },
    /** Agent shutdown: trainers keep running for the next agent to adopt. */
    release(): void {
      for (const run of runs.values()) run.proc.release();
      runs.clear();
    },
  };
}

function readAt(file: string, position: number, length: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const n = fs.readSync(fd, buffer, 0, length, position);
    return buffer.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}
