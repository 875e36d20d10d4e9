import { eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { deployments } from '../db/schema';
import { groupIdsOf } from '../security/groups/membership';
import type { OutboundPolicy } from '../security/outbound/policy';
import { invokeTool, type ToolCallOutcome } from './invoke';
import { toolsForGroups } from './store';

/** An OpenAI `tools` entry. */
export interface FunctionTool {
  type: 'function';
  function: { name: string; description: string; parameters: Record<string, unknown> };
}

/** The tools one user's chat turn may offer the model, and the way to call them (what the chat's deps take). */
export interface TurnTools {
  definitions: FunctionTool[];
  call(call: { id: string; name: string; arguments: string }, ctx: { conversationId: string; signal?: AbortSignal }): Promise<ToolCallOutcome>;
}

/**
 * The enabled tools granted to the user's groups, when `model` names a deployment marked tool-capable;
 * null otherwise (the turn goes out without `tools`). An experiment name is not a deployment: its arms
 * may differ, so no tools are offered through it.
 */
export async function turnToolsFor(db: Db, masterKey: Buffer, userId: string, model: string, opts: { policy?: OutboundPolicy } = {}): Promise<TurnTools | null> {
  const [deployment] = await db.select({ tools: deployments.tools }).from(deployments).where(eq(deployments.name, model)).limit(1);
  if (!deployment?.tools) return null;
  const granted = await toolsForGroups(db, masterKey, await groupIdsOf(db, userId));
  if (!granted.length) return null;
  const byName = new Map(granted.map((t) => [t.name, t]));
  return {
    definitions: granted.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.parameters } })),
    async call(call, ctx) {
      const tool = byName.get(call.name);
      // A name the model made up: it is told so, and nothing is called.
      if (!tool) return { status: 'bad_arguments', durationMs: 0, result: `Tool error: there is no tool named ${call.name}`, truncated: false };
      return invokeTool(db, tool, { callId: call.id, arguments: call.arguments, conversationId: ctx.conversationId, userId }, { policy: opts.policy, signal: ctx.signal });
    },
  };
}
