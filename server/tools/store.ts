import { and, asc, eq, inArray } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../db/client';
import { groups, toolGrants, tools } from '../db/schema';
import { DomainError } from '../core/errors';
import { decryptText, encryptText } from '../security/encryption';
import { outboundUrl } from '../security/outbound/url';
import { checkParameters, ParametersError, parametersFromOpenApi } from './parameters';

const name = z.string().trim().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'letters, digits, _ and - only, at most 64 characters');
/** JSON as text (the admin page's textarea) or already parsed (an API caller's object). */
const jsonValue = (field: string) =>
  z.unknown().transform((value, ctx) => {
    if (typeof value !== 'string') return value;
    if (value.length > 64_000) {
      ctx.addIssue({ code: 'custom', message: `${field} is longer than 64,000 characters` });
      return z.NEVER;
    }
    try {
      return JSON.parse(value) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: `${field} is not valid JSON` });
      return z.NEVER;
    }
  });

// The endpoint is stored and shown in clear (and kept in the audit row), so it may carry no credentials
// or query token: the signing secret is what authenticates Enclave to the plugin.
const fields = {
  description: z.string().trim().max(1024),
  /** The JSON schema; or `openapi`, a document with one operation to take it from. */
  parameters: jsonValue('parameters'),
  openapi: jsonValue('openapi'),
  endpoint: outboundUrl({ credentials: false, query: false }),
  secret: z.string().min(16, 'at least 16 characters').max(512),
  timeoutMs: z.number().int().min(100).max(120_000),
  maxResponseBytes: z.number().int().min(256).max(1_048_576),
  enabled: z.boolean(),
};

export const toolInput = z.object({
  name,
  description: fields.description.default(''),
  parameters: fields.parameters.optional(),
  openapi: fields.openapi.optional(),
  endpoint: fields.endpoint,
  secret: fields.secret,
  timeoutMs: fields.timeoutMs.default(10_000),
  maxResponseBytes: fields.maxResponseBytes.default(65_536),
  enabled: fields.enabled.default(true),
});
export const toolUpdate = z.object({
  id: z.string().uuid(),
  name: name.optional(),
  description: fields.description.optional(),
  parameters: fields.parameters.optional(),
  openapi: fields.openapi.optional(),
  endpoint: fields.endpoint.optional(),
  /** Replaces the secret; left out, the old one stays (it is never shown). */
  secret: fields.secret.optional(),
  timeoutMs: fields.timeoutMs.optional(),
  maxResponseBytes: fields.maxResponseBytes.optional(),
  enabled: fields.enabled.optional(),
});
export const toolGrantInput = z.object({ toolId: z.string().uuid(), groupId: z.string().uuid() });

export interface ToolView {
  id: string;
  name: string;
  description: string;
  parameters: Record<string, unknown>;
  endpoint: string;
  timeoutMs: number;
  maxResponseBytes: number;
  enabled: boolean;
  groupIds: string[];
  createdAt: Date;
  updatedAt: Date;
}

type Row = typeof tools.$inferSelect;
const view = (r: Row, groupIds: string[]): ToolView => ({
  id: r.id,
  name: r.name,
  description: r.description,
  parameters: r.parameters,
  endpoint: r.endpoint,
  timeoutMs: r.timeoutMs,
  maxResponseBytes: r.maxResponseBytes,
  enabled: r.enabled,
  groupIds,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
});

/** The parameters from the schema or the OpenAPI document (one of them on create), with a message naming the fault. */
function resolveParameters(input: { parameters?: unknown; openapi?: unknown; description?: string }): { parameters: Record<string, unknown>; description?: string } | null {
  try {
    if (input.openapi !== undefined) {
      const derived = parametersFromOpenApi(input.openapi);
      return { parameters: derived.parameters, description: input.description || derived.description || undefined };
    }
    if (input.parameters !== undefined) return { parameters: checkParameters(input.parameters) };
    return null;
  } catch (e) {
    if (e instanceof ParametersError) throw new DomainError('BAD_REQUEST', e.message);
    throw e;
  }
}

async function grantsOf(db: Db, ids: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (!ids.length) return out;
  for (const g of await db.select().from(toolGrants).where(inArray(toolGrants.toolId, ids))) out.set(g.toolId, [...(out.get(g.toolId) ?? []), g.groupId]);
  return out;
}

async function viewOf(db: Db, row: Row): Promise<ToolView> {
  return view(row, (await grantsOf(db, [row.id])).get(row.id) ?? []);
}

const isUniqueViolation = (e: unknown) => (e as { code?: string; cause?: { code?: string } })?.code === '23505' || (e as { cause?: { code?: string } })?.cause?.code === '23505';

export async function listTools(db: Db): Promise<ToolView[]> {
  const rows = await db.select().from(tools).orderBy(asc(tools.name));
  const grants = await grantsOf(db, rows.map((r) => r.id));
  return rows.map((r) => view(r, grants.get(r.id) ?? []));
}

/** Takes the parsed input (the router's, or toolInput.parse): parsing turns the schema text into JSON. */
export async function createTool(db: Db, masterKey: Buffer, input: z.output<typeof toolInput>, createdBy: string | null): Promise<ToolView> {
  const resolved = resolveParameters(input);
  if (!resolved) throw new DomainError('BAD_REQUEST', 'parameters: give a JSON schema or an OpenAPI document');
  const { ciphertext, dataKeyId } = await encryptText(db, masterKey, input.secret);
  try {
    const [row] = await db
      .insert(tools)
      .values({
        name: input.name,
        description: resolved.description ?? input.description,
        parameters: resolved.parameters,
        endpoint: input.endpoint,
        secretEnc: ciphertext,
        dataKeyId,
        timeoutMs: input.timeoutMs,
        maxResponseBytes: input.maxResponseBytes,
        enabled: input.enabled,
        createdBy,
      })
      .returning();
    return view(row!, []);
  } catch (e) {
    if (isUniqueViolation(e)) throw new DomainError('CONFLICT', `A tool named ${input.name} already exists`);
    throw e;
  }
}

export async function updateTool(db: Db, masterKey: Buffer, input: z.output<typeof toolUpdate>): Promise<ToolView> {
  const { id, secret, parameters, openapi, ...rest } = input;
  const resolved = resolveParameters({ parameters, openapi, description: rest.description });
  const sealed = secret === undefined ? {} : await encryptText(db, masterKey, secret).then((s) => ({ secretEnc: s.ciphertext, dataKeyId: s.dataKeyId }));
  try {
    const [row] = await db
      .update(tools)
      .set({ ...rest, ...(resolved ? { parameters: resolved.parameters, ...(resolved.description ? { description: resolved.description } : {}) } : {}), ...sealed, updatedAt: new Date() })
      .where(eq(tools.id, id))
      .returning();
    if (!row) throw new DomainError('NOT_FOUND', 'No tool with this id');
    return viewOf(db, row);
  } catch (e) {
    if (isUniqueViolation(e)) throw new DomainError('CONFLICT', `A tool named ${rest.name} already exists`);
    throw e;
  }
}

export async function deleteTool(db: Db, id: string): Promise<{ id: string }> {
  const deleted = await db.delete(tools).where(eq(tools.id, z.string().uuid().parse(id))).returning({ id: tools.id });
  if (!deleted.length) throw new DomainError('NOT_FOUND', 'No tool with this id');
  return { id };
}

export async function grantTool(db: Db, raw: z.input<typeof toolGrantInput>): Promise<ToolView> {
  const { toolId, groupId } = toolGrantInput.parse(raw);
  const [row] = await db.select().from(tools).where(eq(tools.id, toolId));
  if (!row) throw new DomainError('NOT_FOUND', 'No tool with this id');
  const [group] = await db.select({ id: groups.id }).from(groups).where(eq(groups.id, groupId));
  if (!group) throw new DomainError('NOT_FOUND', 'No group with this id');
  await db.insert(toolGrants).values({ toolId, groupId }).onConflictDoNothing();
  return viewOf(db, row);
}

export async function revokeTool(db: Db, raw: z.input<typeof toolGrantInput>): Promise<ToolView> {
  const { toolId, groupId } = toolGrantInput.parse(raw);
  const [row] = await db.select().from(tools).where(eq(tools.id, toolId));
  if (!row) throw new DomainError('NOT_FOUND', 'No tool with this id');
  await db.delete(toolGrants).where(and(eq(toolGrants.toolId, toolId), eq(toolGrants.groupId, groupId)));
  return viewOf(db, row);
}

/** A tool ready to call: what the chat sends to the model and what the caller needs (the opened secret stays server-side). */
export interface CallableTool {
  id: string;
  name: string;
  description: string;
  parameters: Record<string, unknown>;
  endpoint: string;
  secret: string;
  timeoutMs: number;
  maxResponseBytes: number;
}

/** The enabled tools granted to any of these groups; one whose secret cannot be opened is left out. */
export async function toolsForGroups(db: Db, masterKey: Buffer, groupIds: string[]): Promise<CallableTool[]> {
  if (!groupIds.length) return [];
  const rows = await db
    .selectDistinct({ t: tools })
    .from(tools)
    .innerJoin(toolGrants, eq(toolGrants.toolId, tools.id))
    .where(and(eq(tools.enabled, true), inArray(toolGrants.groupId, groupIds)))
    .orderBy(asc(tools.name));
  const out: CallableTool[] = [];
  for (const { t } of rows) {
    const secret = await decryptText(db, masterKey, t.secretEnc, t.dataKeyId).catch(() => null);
    if (secret === null) continue; // sealed under a key no longer held: unusable until the secret is set again
    out.push({ id: t.id, name: t.name, description: t.description, parameters: t.parameters, endpoint: t.endpoint, secret, timeoutMs: t.timeoutMs, maxResponseBytes: t.maxResponseBytes });
  }
  return out;
}
