import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { assignmentArtifacts, listAssignments, replicaReportSchema, reportReplica } from '../fleet/nodes/assignments';
import { hostStatsSchema } from '../fleet/host/host-stats';
import { recordHeartbeat } from '../fleet/nodes/heartbeat';
import { recordStartMeasurement } from '../gpu/placement/start-measurements';
import { startupMeasurementSchema } from '../engines/vllm/startup-log';
import { authenticateNode, JoinError, redeemJoinToken } from '../fleet/nodes/join-tokens';
import { issueNodeCertificate, requireNodeCertificate } from '../fleet/nodes/node-certificates';
import { CsrError } from '../security/certificates/x509';
import type { ApiDeps } from './context';
import { TRAINER_INPUTS, type TrainerInput } from '../lifecycle/jobs/inputs';
import { ingestTrainerReport, listTrainerAssignments, openTrainerInput, trainerBaseKey, trainerReportSchema } from '../lifecycle/jobs/remote';
import { MAX_RESUMES } from '../lifecycle/jobs/exit';
import { outputIndexSchema, outputUploadJob, receiveOutputFile, receiveOutputIndex } from '../lifecycle/jobs/output-upload';
import type { OutputDirKind } from '../lifecycle/jobs/output-artifact';
import { writeAudit } from '../security/audit';
import { clientAddress } from '../security/client-address';
import { DomainError } from '../core/errors';
import { artifactStore, isKeyOf } from '../artifacts';
import { isUuid } from '../core/ids';
import { readJsonBody, sendJson } from './http-util';
import { drainRequest } from '../http/request-body';
import type { RawRoute } from './route-table';

/**
 * The agents' API under /api/agent, raw HTTP because agents are not browsers (a Bearer credential, a
 * file download). TLS is Enclave's own when ENCLAVE_TLS_CERT is set, else an ingress's. With Enclave's
 * TLS, every call after the join also needs the node's client certificate (mutual TLS), which only the
 * agent listener (ENCLAVE_AGENT_PORT, server/roles/agent-listener.ts) asks for: see nodeOf.
 *   POST /api/agent/join                 { token, node, csr? } → { nodeName, credential, tls? }
 *                                        (tls: the certificate, the CA's, its serial, notAfter, agentPort)
 *   POST /api/agent/certificate          { csr } → a renewed client certificate (Bearer credential + current certificate)
 *   POST /api/agent/heartbeat            { gpus }                          (Bearer credential)
 *   GET  /api/agent/assignments          → { assignments: [...] }          (Bearer credential)
 *   POST /api/agent/replicas/:id         a replica report                  (Bearer credential)
 *   POST /api/agent/replicas/:id/start-measurement  what the engine measured while starting (Bearer credential)
 *   GET  /api/agent/replicas/:id/model   the plaintext model file of a replica assigned to this node, from the
 *                                        artifact store (a joined agent holds no master key to open it)
 *   GET  /api/agent/jobs                 → { jobs: [...] } trainers to run (Bearer credential)
 *   GET  /api/agent/jobs/:id/input/:name  a running job's plaintext input   (Bearer credential)
 *   POST /api/agent/jobs/:id/report      trainer log bytes, pid, exit → { offset, cancel }
 * Every call after the join is scoped to the credential's node: an agent sees and writes only its rows.
 */
const BODY_LIMIT = 1024 * 1024;
const nullableNumber = z.number().finite().nullable();
const csrField = z.string().min(1).max(16_000);
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
  /** A PKCS#10 request for the agent's own key: its client certificate when the control plane uses mutual TLS. */
  csr: csrField.optional(),
});
const heartbeatSchema = z.object({ gpus: z.array(gpuSchema).max(64), host: hostStatsSchema.nullish() });

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new DomainError('BAD_REQUEST', `${issue.path.join('.') || 'body'}: ${issue.message}`);
  }
  return result.data;
}

/**
 * The calling node: its Bearer credential, and, when TLS is configured (deps.agentTls), also the client
 * certificate it presented on the agent listener, which must be this node's, unrevoked.
 */
async function nodeOf(deps: ApiDeps, req: IncomingMessage) {
  const match = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
  const node = match ? await authenticateNode(deps.db, match[1]!) : null;
  if (!node) throw new DomainError('UNAUTHORIZED', 'A node credential is required (join with `enclave agent --join URL --token T`)');
  if (deps.agentTls) await requireNodeCertificate(deps.db, deps.agentTls, req, node);
  return node;
}


/** A CsrError as the 400 it is. */
async function checkedCsr<T>(issue: () => Promise<T>): Promise<T> {
  try {
    return await issue();
  } catch (e) {
    if (e instanceof CsrError) throw new DomainError('BAD_REQUEST', `csr: ${e.message}`);
    throw e;
  }
}

/** A malformed id names nothing on this node. */
function idParam(id: string | undefined, what: string): string {
  if (!id || !isUuid(id)) throw new DomainError('NOT_FOUND', `No such ${what} on this node`);
  return id;
}

export const agentRoutes: RawRoute[] = [
  {
    method: 'POST',
    path: '/api/agent/join',
    async handle({ deps, req, res }) {
      const { token, node, csr } = parse(joinRequestSchema, await readJsonBody(req, BODY_LIMIT));
      const tls = deps.agentTls;
      if (tls && !csr) throw new DomainError('BAD_REQUEST', 'csr: this control plane requires mutual TLS, so the join must carry a certificate request (update the agent)');
      try {
        const joined = await checkedCsr(() => redeemJoinToken(deps.db, token, { ...node, topology: node.topology ?? null }, tls && csr ? { tls, csr } : undefined));
        const certificate = joined.certificate && { ...joined.certificate, agentPort: tls!.port };
        sendJson(res, 200, { nodeName: joined.node.name, credential: joined.credential, ...(certificate ? { tls: certificate } : {}) });
      } catch (e) {
        if (e instanceof JoinError) throw new DomainError('UNAUTHORIZED', e.message);
        throw e;
      }
    },
  },
  {
    // Renewal: a new certificate for a new key, asked with the current one (which stays valid until it
    // expires, so requests in flight during the switch still pass).
    method: 'POST',
    path: '/api/agent/certificate',
    async handle({ deps, req, res }) {
      const node = await nodeOf(deps, req);
      const tls = deps.agentTls;
      if (!tls) throw new DomainError('NOT_FOUND', 'This control plane issues no client certificates (TLS is not configured)');
      const { csr } = parse(z.object({ csr: csrField }), await readJsonBody(req, BODY_LIMIT));
      const issued = await checkedCsr(() => issueNodeCertificate(deps.db, tls, node, csr));
      sendJson(res, 200, { ...issued, agentPort: tls.port });
    },
  },
  {
    method: 'POST',
    path: '/api/agent/heartbeat',
    async handle({ deps, req, res }) {
      const node = await nodeOf(deps, req);
      const { gpus, host } = parse(heartbeatSchema, await readJsonBody(req, BODY_LIMIT));
      await recordHeartbeat(deps.db, node.name, gpus, new Date(), host);
      sendJson(res, 200, { ok: true });
    },
  },
  {
    method: 'GET',
    path: '/api/agent/assignments',
    async handle({ deps, req, res }) {
      const node = await nodeOf(deps, req);
      // Each with its replica's secret (TLS at the ingress): the agent holds no master key to derive it.
      sendJson(res, 200, { assignments: await listAssignments(deps.db, node.name, deps.masterKey) });
    },
  },
  {
    method: 'POST',
    path: '/api/agent/replicas/:id',
    async handle({ deps, req, res, params }) {
      const node = await nodeOf(deps, req);
      const replicaId = idParam(params.id, 'replica');
      const report = parse(replicaReportSchema, await readJsonBody(req, BODY_LIMIT));
      if (!(await reportReplica(deps.db, node.name, replicaId, report))) throw new DomainError('NOT_FOUND', 'No such replica on this node');
      sendJson(res, 200, { ok: true });
    },
  },
  {
    method: 'POST',
    path: '/api/agent/replicas/:id/start-measurement',
    async handle({ deps, req, res, params }) {
      const node = await nodeOf(deps, req);
      const replicaId = idParam(params.id, 'replica');
      const measured = parse(startupMeasurementSchema, await readJsonBody(req, BODY_LIMIT));
      if (!(await recordStartMeasurement(deps.db, node.name, replicaId, measured))) throw new DomainError('NOT_FOUND', 'No such replica on this node');
      sendJson(res, 200, { ok: true });
    },
  },
  {
    // A joined agent whose host lacks its replica's model fetches it here (fleet/model-cache.ts): only the
    // artifacts of a replica assigned to its own node (its model's, its adapters', and the files of those that
    // are directories, `?key=`; without one, the model's), streamed as the store opens them, frame by frame.
    method: 'GET',
    path: '/api/agent/replicas/:id/model',
    async handle({ deps, req, res, params }) {
      const node = await nodeOf(deps, req);
      const replicaId = idParam(params.id, 'replica');
      const assigned = (await listAssignments(deps.db, node.name, deps.masterKey)).find((a) => a.replicaId === replicaId);
      if (!assigned) throw new DomainError('NOT_FOUND', 'No such replica on this node');
      const readable = assignmentArtifacts(assigned);
      const asked = new URL(req.url ?? '/', 'http://agent').searchParams.get('key');
      if (!asked && !assigned.modelArtifact) throw new DomainError('NOT_FOUND', "This replica's model version has no copy in the artifact store: its file must be at its location on this host");
      const key = asked ?? assigned.modelArtifact!.key;
      let allowed = false;
      try {
        allowed = isKeyOf(key, readable);
      } catch {
        throw new DomainError('BAD_REQUEST', 'key: not an artifact key');
      }
      if (!allowed) throw new DomainError('NOT_FOUND', `No artifact ${key.slice(0, 200)} for this replica`);
      const store = artifactStore(deps.env, deps.db, deps.masterKey);
      const found = await store.head(key);
      if (!found) throw new DomainError('NOT_FOUND', `The artifact store does not hold ${key}`);
      await writeAudit(deps.db, { actorLabel: `node:${node.name}`, action: 'models.download', target: replicaId, clientAddress: clientAddress(req), outcome: 'success', detail: { key: found.key, bytes: found.size } });
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': found.size, 'cache-control': 'no-store' });
      // A failure mid-stream cuts the response short: the agent's size check refuses the file.
      await pipeline(store.readable(found.key), res);
    },
  },
  {
    method: 'GET',
    path: '/api/agent/jobs',
    async handle({ deps, req, res }) {
      const node = await nodeOf(deps, req);
      sendJson(res, 200, { jobs: await listTrainerAssignments(deps.db, node.name) });
    },
  },
  {
    method: 'GET',
    path: '/api/agent/jobs/:id/input/:name',
    async handle({ deps, req, res, params }) {
      const node = await nodeOf(deps, req);
      const jobId = idParam(params.id, 'job');
      const name = params.name!;
      if (!(TRAINER_INPUTS as readonly string[]).includes(name)) throw new DomainError('BAD_REQUEST', `No input named ${name}: one of ${TRAINER_INPUTS.join(', ')}`);
      const input = await openTrainerInput(deps.db, { masterKey: deps.masterKey, dataDir: deps.env.dataDir }, node.name, jobId, name as TrainerInput);
      // Plaintext training data leaves the control plane: who took what is on the audit chain.
      await writeAudit(deps.db, { actorLabel: `node:${node.name}`, action: 'jobs.input_download', target: jobId, clientAddress: clientAddress(req), outcome: 'success', detail: { input: name, rows: input.rows } });
      try {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': fs.statSync(input.file).size, 'x-enclave-rows': String(input.rows), 'cache-control': 'no-store' });
        await pipeline(fs.createReadStream(input.file), res);
      } finally {
        fs.rmSync(input.file, { force: true });
      }
    },
  },
  {
    // A joined agent whose host lacks its job's base model (an output of another host) fetches it here into
    // its model cache: only the base of a job running on its node, `?key=` for a directory's files.
    method: 'GET',
    path: '/api/agent/jobs/:id/base',
    async handle({ deps, req, res, params, url }) {
      const node = await nodeOf(deps, req);
      const jobId = idParam(params.id, 'job');
      const key = await trainerBaseKey(deps.db, node.name, jobId, url.searchParams.get('key'));
      const store = artifactStore(deps.env, deps.db, deps.masterKey);
      const found = await store.head(key);
      if (!found) throw new DomainError('NOT_FOUND', `The artifact store does not hold ${key}`);
      await writeAudit(deps.db, { actorLabel: `node:${node.name}`, action: 'models.download', target: jobId, clientAddress: clientAddress(req), outcome: 'success', detail: { key, bytes: found.size } });
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': found.size, 'cache-control': 'no-store' });
      await pipeline(store.readable(key), res);
    },
  },
  {
    // A joined agent's trainer output, one file at a time (output-upload.ts): sealed into the artifact store
    // as it streams, for the attempt this node runs only. `?attempt=N&path=<relative path>`.
    method: 'POST',
    path: '/api/agent/jobs/:id/outputs/:kind/file',
    async handle({ deps, req, res, params, url }) {
      const node = await nodeOf(deps, req);
      const jobId = idParam(params.id, 'job');
      const kind = params.kind! as OutputDirKind;
      try {
        await outputUploadJob(deps.db, node.name, jobId, Number(url.searchParams.get('attempt')), kind);
        const declared = Number(req.headers['content-length']);
        if (!Number.isSafeInteger(declared) || declared < 0) throw new DomainError('BAD_REQUEST', 'content-length: required, the file\'s size');
        const store = artifactStore(deps.env, deps.db, deps.masterKey);
        sendJson(res, 200, await receiveOutputFile(store, jobId, kind, url.searchParams.get('path') ?? '', req, declared));
      } catch (e) {
        // The agent gets to read the refusal (past the drain limit the connection is cut).
        drainRequest(req);
        throw e;
      }
    },
  },
  {
    // The list of an output's files once all are sent: it becomes the directory's index, and the output is whole.
    method: 'POST',
    path: '/api/agent/jobs/:id/outputs/:kind',
    async handle({ deps, req, res, params }) {
      const node = await nodeOf(deps, req);
      const jobId = idParam(params.id, 'job');
      const kind = params.kind! as OutputDirKind;
      const body = parse(outputIndexSchema, await readJsonBody(req, 16 * BODY_LIMIT));
      await outputUploadJob(deps.db, node.name, jobId, body.attempt, kind);
      const key = await receiveOutputIndex(artifactStore(deps.env, deps.db, deps.masterKey), jobId, kind, body.files);
      await writeAudit(deps.db, { actorLabel: `node:${node.name}`, action: 'jobs.output_upload', target: jobId, clientAddress: clientAddress(req), outcome: 'success', detail: { key, files: body.files.length, bytes: body.files.reduce((n, f) => n + f.size, 0) } });
      sendJson(res, 200, { key });
    },
  },
  {
    method: 'POST',
    path: '/api/agent/jobs/:id/report',
    async handle({ deps, req, res, params }) {
      const node = await nodeOf(deps, req);
      const jobId = idParam(params.id, 'job');
      const report = parse(trainerReportSchema, await readJsonBody(req, BODY_LIMIT));
      // With shared storage the control plane sees the trainer's outputs and seals them; otherwise they stay on the agent's host.
      sendJson(res, 200, await ingestTrainerReport(deps.db, node.name, jobId, report, { maxResumes: MAX_RESUMES, artifacts: artifactStore(deps.env, deps.db, deps.masterKey) }));
    },
  },
];
