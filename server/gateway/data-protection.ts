import type http from 'node:http';
import type { Db } from '../db/client';
import { errorMessage, log } from '../core/log';
import { writeAudit } from '../security/audit';
import { maskFindings } from '../security/pii/detect';
import {
  decide,
  defaultLevel,
  levelName,
  levelOf,
  mayIntervene,
  policyOf,
  raiseLevelAudited,
  type DeploymentPolicy,
  type ProtectionSettings,
  type Level,
  type ProtectionSettingsCache,
} from '../security/classification';
import type { Caller } from './auth';
import { GatewayError } from './errors';
import type { Route } from './routes';
import type { ChatCompletionBody, CompletionBody, EmbeddingBody, ForwardedBody } from './validation';

/**
 * The gateway's data-protection step (issue 13): a request whose declared level, or whose content's
 * level, is above what its deployment may receive is refused (403 classification_exceeded) or, for a
 * masking deployment, sent with the findings replaced by labels. Only when the deployment's policy could
 * refuse or mask anything is the prompt scanned: an engine Enclave runs takes every level by default, and
 * its requests pay one map lookup. Refusals and redactions are audited with finding types and counts,
 * never values.
 *
 * The declared level is the API key's, or, for the web role's chat (the internal token, a trusted path),
 * the conversation's, sent in `x-enclave-classification` (a rank 0-3).
 */
export const CLASSIFICATION_HEADER = 'x-enclave-classification';
export const SUBJECT_HEADER = 'x-enclave-conversation-id';

const KEY_LEVEL_TTL_MS = 2_000;

export function createDataProtection(db: Db, settings: ProtectionSettingsCache) {
  const keyLevels = new Map<string, { level: Level; until: number }>();

  function policyFor(route: Route, s: ProtectionSettings): DeploymentPolicy {
    return policyOf(s, route.deploymentId, !!route.upstream);
  }

  async function keyLevel(keyId: string): Promise<Level> {
    const hit = keyLevels.get(keyId);
    if (hit && hit.until > Date.now()) return hit.level;
    const { declaredLevel } = await levelOf(db, 'api_key', keyId);
    if (keyLevels.size > 50_000) keyLevels.clear();
    keyLevels.set(keyId, { level: declaredLevel, until: Date.now() + KEY_LEVEL_TTL_MS });
    return declaredLevel;
  }

  function declaredFromHeader(req: http.IncomingMessage): Level {
    const h = req.headers[CLASSIFICATION_HEADER];
    if (h === '0' || h === '1' || h === '2' || h === '3') return Number(h) as Level;
    return defaultLevel();
  }

  async function audit(action: string, outcome: 'denied' | 'success', caller: Caller, req: http.IncomingMessage, route: Route, detail: Record<string, unknown>) {
    const conversation = caller.keyId === null ? req.headers[SUBJECT_HEADER] : undefined;
    await writeAudit(db, {
      actorUserId: caller.userId,
      action,
      target: route.name,
      outcome,
      detail: {
        deploymentId: route.deploymentId,
        ...(caller.keyId ? { apiKeyId: caller.keyId } : { via: 'chat' }),
        ...(typeof conversation === 'string' && /^[0-9a-f-]{36}$/i.test(conversation) ? { conversationId: conversation } : {}),
        ...detail,
      },
    });
  }

  return {
    /**
     * The level the request is declared at (its key's, or the chat conversation's header), synchronously
     * when known: the response cache keeps answers per level (response-cache.ts).
     */
    declaredLevel(req: http.IncomingMessage, caller: Caller): Level | Promise<Level> {
      if (caller.keyId === null) return declaredFromHeader(req);
      const hit = keyLevels.get(caller.keyId);
      return hit && hit.until > Date.now() ? hit.level : keyLevel(caller.keyId);
    },
    /** Forget cached key levels (a key's level changed, or changes may have been missed). */
    forget(keyId?: string) {
      if (keyId) keyLevels.delete(keyId);
      else keyLevels.clear();
    },
    /**
     * null: send the body as it is (synchronously, the common case). Otherwise a promise of the body to
     * send (masked) or null; rejects with a 403 GatewayError when refused.
     *
     * `unscannable`: the request holds images (or audio to transcribe). An image cannot be scanned or masked, so it goes only to a
     * deployment whose policy would never refuse or mask anything (one Enclave runs, by default, or an
     * admin's 'allow' / restricted level); any other refuses it (403 classification_unverifiable), failing
     * closed rather than sending unscreened content outside what the deployment may receive.
     */
    check(req: http.IncomingMessage, caller: Caller, route: Route, body: ForwardedBody, unscannable: 'images' | 'audio' | null = null): null | Promise<Buffer | null> {
      const loaded = settings.current();
      if (loaded && !mayIntervene(policyFor(route, loaded))) return null;
      return (async () => {
        // Until the settings have loaded once, wait for them; if they could not be (the database was away
        // at start), refuse rather than guess: fail closed.
        const s = loaded ?? (await settings.ready.then(() => settings.current(), () => settings.current()));
        if (!s) throw new GatewayError(503, 'api_error', 'classification_unavailable', 'Data-protection settings could not be loaded; try again');
        const policy = policyFor(route, s);
        if (!mayIntervene(policy)) return null;
        const declared = caller.keyId === null ? declaredFromHeader(req) : await keyLevel(caller.keyId);
        const slots = textsOf(body);
        const decision = decide(slots.map((x) => x.text), declared, policy, s);
        if (decision.action !== 'refuse' && caller.keyId && decision.counts) void remember(caller, decision.level!, decision.counts);
        if (unscannable && decision.action !== 'refuse') {
          await audit('data_protection.refused', 'denied', caller, req, route, { level: levelName(declared), maxLevel: levelName(policy.maxLevel), because: unscannable, findings: decision.counts ?? {} });
          throw new GatewayError(
            403,
            'permission_error',
            'classification_unverifiable',
            `This request holds ${unscannable}, which cannot be screened for sensitive data, and the deployment '${route.name}' may receive data up to ${levelName(policy.maxLevel)} only. ${unscannable === 'images' ? 'Send text only, or ask' : 'Ask'} an admin to let this deployment receive every level (its data-protection policy)`,
          );
        }
        if (decision.action === 'send') return null;
        const types = Object.entries(decision.counts).map(([t, n]) => `${t} ×${n}`).join(', ');
        if (decision.action === 'refuse') {
          if (caller.keyId && decision.because === 'content') void remember(caller, decision.level, decision.counts);
          await audit('data_protection.refused', 'denied', caller, req, route, {
            level: levelName(decision.level),
            maxLevel: levelName(policy.maxLevel),
            because: decision.because,
            findings: decision.counts,
          });
          const message =
            decision.because === 'declared'
              ? `This request is classified ${levelName(decision.level)}, above the highest level the deployment '${route.name}' may receive (${levelName(policy.maxLevel)})`
              : `This request holds ${types}, which makes it ${levelName(decision.level)}, above the highest level the deployment '${route.name}' may receive (${levelName(policy.maxLevel)})`;
          throw new GatewayError(403, 'permission_error', 'classification_exceeded', message);
        }
        decision.masks.forEach((findings, i) => {
          if (findings.length > 0) slots[i]!.set(maskFindings(slots[i]!.text, findings));
        });
        await audit('data_protection.masked', 'success', caller, req, route, { level: levelName(decision.level), maxLevel: levelName(policy.maxLevel), findings: decision.counts });
        return Buffer.from(JSON.stringify(body));
      })();
    },
  };

  /** The detector raises the key's recorded level (it never lowers it); off the request's path. */
  async function remember(caller: Caller, level: Level, counts: Record<string, number>) {
    try {
      await raiseLevelAudited(db, caller.userId, 'api_key', caller.keyId!, level, counts);
    } catch (err) {
      log.warn('data protection: recording a key\'s findings failed', { error: errorMessage(err) });
    }
  }
}
export type DataProtection = ReturnType<typeof createDataProtection>;

interface TextSlot {
  text: string;
  set(masked: string): void;
}

/** The prompt's texts, each with a way to replace it: message contents, text parts and tool-call arguments, or the completion prompt. */
export function textsOf(body: ForwardedBody): TextSlot[] {
  const slots: TextSlot[] = [];
  if ('messages' in body && Array.isArray(body.messages)) {
    for (const m of (body as ChatCompletionBody).messages) {
      const c = m.content;
      if (typeof c === 'string') slots.push({ text: c, set: (v) => (m.content = v) });
      else if (Array.isArray(c))
        for (const part of c as Record<string, unknown>[]) {
          if (part && typeof part.text === 'string') slots.push({ text: part.text, set: (v) => (part.text = v) });
        }
      // An assistant turn's tool calls carry what the model extracted, personal data included.
      if (Array.isArray(m.tool_calls))
        for (const call of m.tool_calls as { function?: { arguments?: unknown } }[]) {
          const fn = call?.function;
          if (fn && typeof fn.arguments === 'string') slots.push({ text: fn.arguments, set: (v) => (fn.arguments = v) });
        }
    }
  } else if ('input' in body) {
    // Embeddings: the texts to embed are screened like a prompt (token ids carry no readable text).
    const b = body as EmbeddingBody;
    if (typeof b.input === 'string') slots.push({ text: b.input, set: (v) => (b.input = v) });
    else if (Array.isArray(b.input)) {
      const inputs = b.input as unknown[];
      inputs.forEach((p, i) => {
        if (typeof p === 'string') slots.push({ text: p, set: (v) => (inputs[i] = v) });
      });
    }
  } else {
    const b = body as CompletionBody;
    if (typeof b.prompt === 'string') slots.push({ text: b.prompt, set: (v) => (b.prompt = v) });
    else if (Array.isArray(b.prompt)) {
      const prompts = b.prompt as unknown[];
      prompts.forEach((p, i) => {
        if (typeof p === 'string') slots.push({ text: p, set: (v) => (prompts[i] = v) });
      });
    }
  }
  return slots;
}
