import fs from 'node:fs';
import path from 'node:path';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { jobMetrics, jobs, modelVersions } from '../../db/schema';
import { perplexityOfFile } from '../quantize/perplexity';
import { quantizeGguf } from '../quantize/quantize';
import { errorMessage } from '../../core/log';
import type { JobRow } from './access';
import { markCancelled, markFailed, markSucceeded, registerJobOutput } from './finish';
import { gateFor, perplexityDeltaPct } from './gate';
import { publishJobUpdate } from './live';
import type { QuantizeSpec } from './quantize-spec';
import { BUNDLED_QUALITY_TEXT } from './quality-text';
import type { Db } from '../../db/client';
import type { writeDatasetPart } from '../datasets/store';
import { jobWorkspace, prepareWorkspace, removeDatasetCopies } from './workspace';
import { localModelPath, storeFor, type ArtifactStore } from '../../artifacts';
import { storeOutputFile } from './output-artifact';

class Cancelled extends Error {}
/** Another worker runs this job now (this one stalled past its lease): stop without touching the row. */
class Superseded extends Error {}

const MAX_GGUF_ATTEMPTS = 3;

const STAGES = ['perplexity before', 'quantize', 'perplexity after', 'register'] as const;

/**
 * Perplexity on a CPU costs about one forward pass per token, twice: the held-out text is cut to its first
 * 32 KiB (about 8k tokens, at a paragraph break), as quantize.py caps its own with --max-eval-tokens.
 */
export const MAX_EVAL_TEXT_BYTES = 32 * 1024;

function capText(file: string): void {
  const text = fs.readFileSync(file);
  if (text.length <= MAX_EVAL_TEXT_BYTES) return;
  const head = text.subarray(0, MAX_EVAL_TEXT_BYTES).toString('utf8');
  const cut = head.lastIndexOf('\n\n');
  fs.writeFileSync(file, cut > 0 ? head.slice(0, cut + 1) : head, { mode: 0o600 });
}

/**
 * A GGUF quantization, on this worker's CPU: perplexity of the source on the held-out text, Enclave's own
 * streaming quantizer, perplexity of the output, then the quality gate decides whether the new version is
 * promoted or stays a candidate until an engineer overrides the gate.
 */
/** What a GGUF quantization needs of the worker running it (a part of the supervisor's TrainingDeps). */
export interface GgufQuantizeDeps {
  db: Db;
  masterKey?: Buffer;
  dataDir: string;
  /** This worker's host: the quantizer runs here, on its CPU. */
  runnerNode: string;
  writeDataset: typeof writeDatasetPart;
  /**
   * Where the output is sealed for agents on other hosts (default with a master key: the configured store,
   * see storeFor). Without a master key nothing can be sealed: the version is the local file only.
   */
  artifacts?: ArtifactStore;
}

export async function runGgufQuantize(deps: GgufQuantizeDeps, job: JobRow): Promise<void> {
  const { db } = deps;
  const spec = job.spec as QuantizeSpec & { target: 'f16' | 'q8_0' };
  const ws = jobWorkspace(deps.dataDir, job.id);
  const output = path.join(ws.output, `${job.id.slice(0, 8)}-${spec.target}.gguf`);
  const log: string[] = [...job.logTail];
  // This run's number (the row's attempts once claimed): every write below is guarded by it, so a worker
  // that stalled past its lease while another took the job over writes nothing more, and its half-written
  // file is its own (renamed into place only by the run that registers it).
  let attempt = -1;
  /** The output's object once sealed: a run that then fails removes it (no object without a version). */
  let stored: { store: ArtifactStore; key: string } | undefined;
  const partial = () => `${output}.attempt-${attempt}.partial`;
  const stillOurs = async () => (await db.select({ id: jobs.id }).from(jobs).where(and(eq(jobs.id, job.id), eq(jobs.attempts, attempt)))).length > 0;

  /** Records the stage (progress bar and log) and stops here if a cancel was asked for. */
  const stage = async (index: number, line: string) => {
    log.push(line);
    const progress = { step: index, totalSteps: STAGES.length, stage: STAGES[index] ?? 'done' };
    const [row] = await db
      .update(jobs)
      .set({ progress, logTail: log.slice(-50), updatedAt: new Date() })
      .where(and(eq(jobs.id, job.id), eq(jobs.attempts, attempt)))
      .returning({ cancel: jobs.cancelRequestedAt });
    if (!row) throw new Superseded();
    await publishJobUpdate(job.id, { progress });
    if (row.cancel) throw new Cancelled();
  };

  try {
    // A worker that died mid-run leaves the row running; the sweep runs it again, but not forever.
    if (job.attempts >= MAX_GGUF_ATTEMPTS) throw new Error(`the quantization was interrupted ${job.attempts} times; giving up`);
    const [started] = await db
      .update(jobs)
      .set({ status: 'running', waitingReason: null, nodeName: deps.runnerNode, attempts: sql`${jobs.attempts} + 1`, startedAt: new Date(), error: null, updatedAt: new Date() })
      .where(and(eq(jobs.id, job.id), inArray(jobs.status, ['queued', 'waiting', 'running'])))
      .returning();
    if (!started) return;
    attempt = started.attempts;
    await publishJobUpdate(job.id, { status: 'running' });
    const [source] = await db.select().from(modelVersions).where(eq(modelVersions.id, job.baseVersionId!));
    if (!source) throw new Error('the source model version no longer exists');
    const store = deps.artifacts ?? (deps.masterKey ? storeFor(deps.dataDir, db, deps.masterKey) : undefined);
    // A source produced on another host (an earlier job's output) comes from the artifact store into this
    // host's model cache; one this host has (or a version registered by path) is read where it is.
    const sourcePath =
      store && source.artifactKey
        ? await localModelPath(deps.dataDir, store, source.location, { key: source.artifactKey, sizeBytes: source.sizeBytes, sha256: source.sha256 })
        : source.location;
    prepareWorkspace(ws);
    fs.mkdirSync(ws.output, { recursive: true });

    let textSource: 'dataset' | 'bundled' = 'bundled';
    if (spec.evalDatasetId) {
      if (!deps.masterKey) throw new Error('this worker has no master key to open datasets');
      const written = await deps.writeDataset(db, deps.masterKey, spec.evalDatasetId, 'heldOut', ws.evalText, 'text', { dataDir: deps.dataDir });
      if (written.rows === 0) throw new Error('the evaluation dataset has no held-out rows');
      capText(ws.evalText);
      textSource = 'dataset';
    } else {
      fs.writeFileSync(ws.evalText, BUNDLED_QUALITY_TEXT, { mode: 0o600 });
    }
    const measure = async (modelPath: string) => {
      const t0 = performance.now();
      const r = await perplexityOfFile({ modelPath, textPath: ws.evalText, contextSize: 1024, threads: 1 });
      return { ...r, tokensPerSecond: r.tokens / ((performance.now() - t0) / 1000) };
    };

    await stage(0, `measuring perplexity of the source on ${textSource === 'dataset' ? 'the held-out rows' : 'the bundled text'}`);
    const before = await measure(sourcePath);
    await stage(1, `perplexity before ${before.perplexity.toFixed(4)} over ${before.tokens} tokens; quantizing to ${spec.target}`);
    // Off the thread: the worker's event loop keeps following trainers, renewing leases and answering BullMQ.
    const q = await quantizeGguf(sourcePath, partial(), spec.target, { offThread: true });
    await stage(2, `quantized ${q.converted} of ${q.tensors} tensors in ${q.seconds.toFixed(2)} s: ${q.inputBytes} → ${q.outputBytes} bytes`);
    const after = await measure(partial());
    const deltaPct = perplexityDeltaPct(before.perplexity, after.perplexity);
    const gate = gateFor(deltaPct, spec.maxPerplexityDeltaPct);
    await stage(3, `perplexity after ${after.perplexity.toFixed(4)} (${deltaPct >= 0 ? '+' : ''}${deltaPct.toFixed(3)}%, limit ${spec.maxPerplexityDeltaPct}%): gate ${gate}`);
    fs.renameSync(partial(), output);
    // Into the shared store before the version exists: a registered version always has its object. The
    // file stays in the workspace too, so engines on this host start from it without a fetch.
    const artifactKey = store ? await storeOutputFile(store, job.id, output) : undefined;
    stored = artifactKey ? { store: store!, key: artifactKey } : undefined;
    if (!(await stillOurs())) throw new Superseded();
    await db.insert(jobMetrics).values({ jobId: job.id, kind: 'eval', step: 0, values: { perplexity_before: before.perplexity, perplexity_after: after.perplexity, perplexity_delta_pct: deltaPct } });

    const versionId = await registerJobOutput(db, job, {
      version: `${spec.target}-${job.id.slice(0, 8)}`,
      format: 'gguf',
      location: output,
      quantization: spec.target,
      parentVersionId: source.id,
      stage: gate === 'passed' ? 'promoted' : 'candidate',
      artifactKey,
    });
    await markSucceeded(db, job.id, {
      outputVersionId: versionId,
      gateStatus: gate,
      progress: { step: STAGES.length, totalSteps: STAGES.length, stage: 'done' },
      logTail: log.slice(-50),
      result: {
        target: spec.target,
        inputBytes: q.inputBytes,
        outputBytes: q.outputBytes,
        sizeRatio: q.outputBytes / q.inputBytes,
        quantizeSeconds: q.seconds,
        perplexityBefore: before.perplexity,
        perplexityAfter: after.perplexity,
        deltaPct,
        maxDeltaPct: spec.maxPerplexityDeltaPct,
        evalTokens: before.tokens,
        evalText: textSource,
        tokensPerSecondBefore: before.tokensPerSecond,
        tokensPerSecondAfter: after.tokensPerSecond,
      },
    });
  } catch (e) {
    if (attempt >= 0) fs.rmSync(partial(), { force: true });
    if (e instanceof Superseded || (attempt >= 0 && !(await stillOurs()))) return;
    fs.rmSync(output, { force: true });
    if (stored) await stored.store.delete(stored.key).catch(() => undefined);
    if (e instanceof Cancelled) await markCancelled(db, job.id);
    else await markFailed(db, job.id, errorMessage(e));
  } finally {
    removeDatasetCopies(ws);
  }
}
