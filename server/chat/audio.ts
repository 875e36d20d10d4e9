import { and, eq, ne } from 'drizzle-orm';
import type { Db } from '../db/client';
import { deploymentReplicas, deployments, type Role } from '../db/schema';
import { codeForStatus, DomainError } from '../core/errors';
import { internalToken } from '../security/master-key';
import { groupIdsOf } from '../security/groups/membership';
import { deploymentGrantMap } from './models';
import { userMayUse } from './model-access';

/**
 * Voice in the chat (issue 16, part 6): the microphone's recording transcribed, and a reply read aloud,
 * through the gateway's /v1/audio endpoints as the signed-in user (the internal token plus
 * x-enclave-user-id, as a chat turn goes): keyed to that user, quota'd, logged and refused exactly as
 * their own API calls would be. The UI shows its buttons only when audioDeploymentsFor lists one.
 */
export interface AudioDeps {
  db: Db;
  masterKey: Buffer;
  gatewayUrl: string;
}

/** The deployments marked audio (migration 0031) this user may use, not stopped; ready: a replica can answer now. */
export async function audioDeploymentsFor(db: Db, user: { id: string; role: Role }): Promise<{ name: string; ready: boolean }[]> {
  const who = { role: user.role, groups: await groupIdsOf(db, user.id) };
  const [rows, grants] = await Promise.all([
    db
      .select({ id: deployments.id, name: deployments.name, allowedRoles: deployments.allowedRoles, replicaStatus: deploymentReplicas.status })
      .from(deployments)
      .leftJoin(deploymentReplicas, eq(deploymentReplicas.deploymentId, deployments.id))
      .where(and(eq(deployments.audio, true), ne(deployments.status, 'stopped'))),
    deploymentGrantMap(db),
  ]);
  const out = new Map<string, { name: string; ready: boolean }>();
  for (const r of rows) {
    if (!userMayUse(r.allowedRoles, grants.get(r.id), who)) continue;
    const d = out.get(r.name) ?? { name: r.name, ready: false };
    if (r.replicaStatus === 'ready') d.ready = true;
    out.set(r.name, d);
  }
  return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
}

const headers = (deps: AudioDeps, userId: string) => ({ authorization: `Bearer ${internalToken(deps.masterKey)}`, 'x-enclave-user-id': userId });

async function refusal(res: Response): Promise<DomainError> {
  let message = `The gateway answered ${res.status}`;
  try {
    const body = (await res.json()) as { error?: { message?: unknown } };
    if (typeof body.error?.message === 'string') message = body.error.message;
  } catch {
    // not JSON: the generic message
  }
  return new DomainError(codeForStatus(res.status), message, res.status);
}

async function call(deps: AudioDeps, path: string, init: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(`${deps.gatewayUrl.replace(/\/$/, '')}${path}`, { method: 'POST', ...init });
  } catch {
    throw new DomainError('BAD_GATEWAY', 'The gateway could not be reached');
  }
  if (!res.ok) throw await refusal(res);
  return res;
}

/** A recording's text (the browser's MediaRecorder output: webm/ogg/mp4, checked by the gateway). */
export async function transcribe(deps: AudioDeps, userId: string, input: { model: string; audio: Buffer; mimeType: string; language?: string }): Promise<string> {
  const form = new FormData();
  const extension = /ogg/.test(input.mimeType) ? 'ogg' : /mp4|m4a|aac/.test(input.mimeType) ? 'm4a' : /wav/.test(input.mimeType) ? 'wav' : 'webm';
  form.set('file', new Blob([new Uint8Array(input.audio)], { type: input.mimeType }), `recording.${extension}`);
  form.set('model', input.model);
  form.set('response_format', 'json');
  if (input.language) form.set('language', input.language);
  const res = await call(deps, '/v1/audio/transcriptions', { headers: headers(deps, userId), body: form });
  const body = (await res.json()) as { text?: unknown };
  if (typeof body.text !== 'string') throw new DomainError('BAD_GATEWAY', 'The transcription deployment answered without text');
  return body.text.trim();
}

/** A reply spoken: the audio bytes and their type, as the speech deployment made them. */
export async function speak(deps: AudioDeps, userId: string, input: { model: string; text: string; voice: string }): Promise<{ audio: Buffer; contentType: string }> {
  const res = await call(deps, '/v1/audio/speech', {
    headers: { ...headers(deps, userId), 'content-type': 'application/json' },
    body: JSON.stringify({ model: input.model, input: input.text, voice: input.voice, response_format: 'wav' }),
  });
  return { audio: Buffer.from(await res.arrayBuffer()), contentType: res.headers.get('content-type') ?? 'audio/wav' };
}
