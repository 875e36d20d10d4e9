import { randomUUID } from 'node:crypto';
import type { Db } from '../db/client';
import { writeAudit } from '../security/audit';
import { OutboundFailed, outboundRequest } from '../security/outbound/request';
import { OutboundRefused, outboundPolicy, type OutboundPolicy } from '../security/outbound/policy';
import { SIGNATURE_HEADER, signEnclaveBody, TIMESTAMP_HEADER } from './signature';
import type { CallableTool } from './store';

export type ToolCallStatus = 'ok' | 'error' | 'timeout' | 'refused' | 'bad_arguments';

/** What one call came to: `result` is what the model is given (the answer, or a tool error it can act on). */
export interface ToolCallOutcome {
  status: ToolCallStatus;
  durationMs: number;
  result: string;
  /** The answer was longer than the tool's size limit and was cut there. */
  truncated: boolean;
  httpStatus?: number;
}

/**
 * Calls a tool's endpoint for the model: a signed POST (signature.ts) under the outbound policy, with
 * the tool's timeout and size limit. Never throws for the tool's own failure: the model is told what
 * went wrong and may answer without it. Every call is audited (tool, caller, status, duration), never
 * its arguments or answer.
 */
export async function invokeTool(
  db: Db,
  tool: CallableTool,
  call: { callId?: string; arguments: string; conversationId?: string; userId: string },
  opts: { policy?: OutboundPolicy; signal?: AbortSignal } = {},
): Promise<ToolCallOutcome> {
  const started = performance.now();
  const outcome = await attempt(tool, call, opts).catch((e: unknown): Omit<ToolCallOutcome, 'durationMs'> => {
    if (opts.signal?.aborted) return { status: 'error', result: 'Tool error: the turn was stopped', truncated: false };
    if (e instanceof OutboundRefused) return { status: 'refused', result: `Tool error: the tool's endpoint is ${e.message}`, truncated: false };
    if (e instanceof OutboundFailed && e.detail === 'timeout') return { status: 'timeout', result: `Tool error: the tool did not answer within ${tool.timeoutMs} ms`, truncated: false };
    return { status: 'error', result: "Tool error: the tool's endpoint could not be reached", truncated: false };
  });
  const durationMs = Math.round(performance.now() - started);
  await writeAudit(db, {
    actorUserId: call.userId,
    action: 'tools.call',
    target: tool.id,
    outcome: outcome.status === 'ok' ? 'success' : 'failure',
    detail: { tool: tool.name, status: outcome.status, durationMs, ...(outcome.httpStatus ? { httpStatus: outcome.httpStatus } : {}), ...(outcome.truncated ? { truncated: true } : {}) },
  });
  return { ...outcome, durationMs };
}

async function attempt(tool: CallableTool, call: { callId?: string; arguments: string; conversationId?: string }, opts: { policy?: OutboundPolicy; signal?: AbortSignal }): Promise<Omit<ToolCallOutcome, 'durationMs'>> {
  let args: unknown;
  try {
    args = call.arguments.trim() ? JSON.parse(call.arguments) : {};
  } catch {
    return { status: 'bad_arguments', result: 'Tool error: the arguments were not valid JSON; call the tool again with a JSON object', truncated: false };
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return { status: 'bad_arguments', result: 'Tool error: the arguments must be a JSON object', truncated: false };
  const body = JSON.stringify({ tool: tool.name, arguments: args, ...(call.conversationId ? { conversationId: call.conversationId } : {}), callId: call.callId ?? randomUUID() });
  const timestamp = String(Date.now());
  const answer = await outboundRequest(
    tool.endpoint,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json', [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: signEnclaveBody(tool.secret, timestamp, body) },
      body,
      timeoutMs: tool.timeoutMs,
      maxBodyBytes: tool.maxResponseBytes,
      overflow: 'cut',
      signal: opts.signal,
    },
    opts.policy ?? outboundPolicy(),
  );
  const text = answer.body.toString('utf8');
  if (answer.status < 200 || answer.status >= 300) return { status: 'error', result: `Tool error: the tool answered HTTP ${answer.status}${text ? `: ${text.slice(0, 500)}` : ''}`, truncated: !!answer.truncated, httpStatus: answer.status };
  return { status: 'ok', result: answer.truncated ? `${text}\n[cut at ${tool.maxResponseBytes} bytes]` : text, truncated: !!answer.truncated, httpStatus: answer.status };
}
