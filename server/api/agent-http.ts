import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import type { Db } from '../db/client';
import { listAssignments, replicaReportSchema, reportReplica } from '../gpu/nodes/assignments';
import { recordHeartbeat } from '../gpu/nodes/heartbeat';
import { authenticateNode, JoinError, redeemJoinToken } from '../gpu/nodes/join-tokens';
import type { Env } from '../env';
import { TRAINER_INPUTS, type TrainerInput } from '../lifecycle/jobs/inputs';
import { ingestTrainerReport, listTrainerAssignments, openTrainerInput, trainerReportSchema } from '../lifecycle/jobs/remote';
import { MAX_RESUMES } from '../lifecycle/jobs/exit';
import { writeAudit } from '../security/audit';
import { clientAddress } from '../security/client-address';
import { DomainError } from '../security/errors';
import { readJsonBody, sendError, sendJson } from './http-util';

/**
 * The agents' API under /api/agent (TLS is terminated by the ingress in front of the web role):
 *   POST /api/agent/join                 { token, node } → { nodeName, credential }
 *   POST /api/agent/heartbeat            { gpus }                          (Bearer credential)
 *   GET  /api/agent/assignments          → { assignments: [...] }          (Bearer credential)
 *   POST /api/agent/replicas/:id         a replica report                  (Bearer credential)
 *   GET  /api/agent/jobs                 → { jobs: [...] } trainers to run (Bearer credential)
 *   GET  /api/agent/jobs/:id/input/:name  a running job's plaintext input   (Bearer credential)
 *   POST /api/agent/jobs/:id/report      trainer log bytes, pid, exit → { offset, cancel }
 * Every call after the join is scoped to the credential's node: an agent sees and writes only its rows.
 */
const BODY_LIMIT = 1024 * 1024;
const nullableNumber = z.number().finite().nullable();
const gpuSchema = z.object({
  index: z.number().int().min(0).max(1023),
  name: z.string().max(200).nullable(),
  uuid: z.string().max(200).nullable(),
  memoryTotalMiB: nullableNumber,
  memoryUsedMiB: nullableNumber,
  utilizationPct: nullableNumber,
  temperatureC: nullableNumber,
  powerW: nullableNumber,
  mig: z.object({ enabled: z.boolean(), parentUuid: z.string().max(200).nullish() }).nullish(),
});
const topologySchema = z.object({
  devices: z.array(z.string().max(32)).max(256),
  links: z.array(z.array(z.string().max(32)).max(256)).max(256),
  numaNode: z.array(z.number().int().nullable()).max(256),
  cpuAffinity: z.array(z.string().max(200).nullable()).max(256).optional(),
});
export const joinRequestSchema = z.object({
  token: z.string().min(1).max(200),
  node: z.object({
    name: z.string().regex(/^[A-Za-z0-9._-]{1,63}$/, 'letters, digits, dot, dash, underscore; up to 63'),
    labels: z.record(z.string().max(63), z.string().max(63)).default({}),
    gpus: z.array(gpuSchema).max(64),
    topology: topologySchema.nullable(),
    driverVersion: z.string().max(50).nullish(),
    cudaVersion: z.string().max(50).nullish(),
    address: z.string().url().max(500).nullish(),
  }),
});
const heartbeatSchema = z.object({ gpus: z.array(gpuSchema).max(64) });
const REPLICA_PATH = /^\/api\/agent\/replicas\/([0-9a-f-]{36})$/;
const JOB_INPUT_PATH = /^\/api\/agent\/jobs\/([0-9a-f-]{36})\/input\/([a-z-]{1,40})$/;
const JOB_REPORT_PATH = /^\/api\/agent\/jobs\/([0-9a-f-]{36})\/report$/;

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new DomainError('BAD_REQUEST', `${issue.path.join('.') || 'body'}: ${issue.message}`);
  }
  return result.data;
}

async function nodeOf(db: Db, req: IncomingMessage) {
  const match = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
  const node = match ? await authenticateNode(db, match[1]!) : null;
  if (!node) throw new DomainError('UNAUTHORIZED', 'A node credential is required (join with `enclave agent --join URL --token T`)');
  return node;
}

/** Resolves false for paths outside /api/agent, so the caller can answer them. */
export async function handleAgentApi(deps: { db: Db; masterKey: Buffer; env: Pick<Env, 'dataDir'> }, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (!pathname.startsWith('/api/agent/')) return false;
  const { db } = deps;
  try {
    const route = `${req.method} ${pathname}`;
    if (route === 'POST /api/agent/join') {
      const { token, node } = parse(joinRequestSchema, await readJsonBody(req, BODY_LIMIT));
      try {
        const joined = await redeemJoinToken(db, token, { ...node, topology: node.topology ?? null });
        sendJson(res, 200, { nodeName: joined.node.name, credential: joined.credential });
      } catch (e) {
        if (e instanceof JoinError) throw new DomainError('UNAUTHORIZED', e.message);
        throw e;
      }
    } else if (route === 'POST /api/agent/heartbeat') {
      const node = await nodeOf(db, req);
      const { gpus } = parse(heartbeatSchema, await readJsonBody(req, BODY_LIMIT));
      await recordHeartbeat(db, node.name, gpus);
      sendJson(res, 200, { ok: true });
    } else if (route === 'GET /api/agent/assignments') {
      const node = await nodeOf(db, req);
      sendJson(res, 200, { assignments: await listAssignments(db, node.name) });
    } else if (req.method === 'POST' && REPLICA_PATH.test(pathname)) {
      const node = await nodeOf(db, req);
      const report = parse(replicaReportSchema, await readJsonBody(req, BODY_LIMIT));
      if (!(await reportReplica(db, node.name, REPLICA_PATH.exec(pathname)![1]!, report))) throw new DomainError('NOT_FOUND', 'No such replica on this node');
      sendJson(res, 200, { ok: true });
    } else if (route === 'GET /api/agent/jobs') {
      const node = await nodeOf(db, req);
      sendJson(res, 200, { jobs: await listTrainerAssignments(db, node.name) });
    } else if (req.method === 'GET' && JOB_INPUT_PATH.test(pathname)) {
      const node = await nodeOf(db, req);
      const [, jobId, name] = JOB_INPUT_PATH.exec(pathname)!;
      if (!(TRAINER_INPUTS as readonly string[]).includes(name!)) throw new DomainError('BAD_REQUEST', `No input named ${name}: one of ${TRAINER_INPUTS.join(', ')}`);
      const input = await openTrainerInput(db, { masterKey: deps.masterKey, dataDir: deps.env.dataDir }, node.name, jobId!, name as TrainerInput);
      // Plaintext training data leaves the control plane: who took what is on the audit chain.
      await writeAudit(db, { actorLabel: `node:${node.name}`, action: 'jobs.input_download', target: jobId, clientAddress: clientAddress(req), outcome: 'success', detail: { input: name, rows: input.rows } });
      try {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': fs.statSync(input.file).size, 'x-enclave-rows': String(input.rows), 'cache-control': 'no-store' });
        await pipeline(fs.createReadStream(input.file), res);
      } finally {
        fs.rmSync(input.file, { force: true });
      }
    } else if (req.method === 'POST' && JOB_REPORT_PATH.test(pathname)) {
      const node = await nodeOf(db, req);
      const report = parse(trainerReportSchema, await readJsonBody(req, BODY_LIMIT));
      sendJson(res, 200, await ingestTrainerReport(db, node.name, JOB_REPORT_PATH.exec(pathname)![1]!, report, { maxResumes: MAX_RESUMES }));
    } else throw new DomainError('NOT_FOUND', 'No such agent endpoint');
  } catch (error) {
    sendError(res, error, 'agent api');
  }
  return true;
}
