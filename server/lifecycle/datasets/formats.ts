/** The three JSONL row shapes Enclave accepts, each checked and normalised to chat messages. */
export type DatasetFormat = 'openai' | 'alpaca' | 'sharegpt';
export type Role = 'system' | 'user' | 'assistant' | 'tool';
export type Message = { role: Role; content: string };

export type RowCheck = { ok: true; messages: Message[] } | { ok: false; reason: string };

const OPENAI_ROLES = new Set<string>(['system', 'user', 'assistant', 'tool']);
/** ShareGPT speakers as LLaMA-Factory names them, mapped to chat roles. */
const SHAREGPT_ROLES: Record<string, Role> = {
  system: 'system',
  human: 'user',
  user: 'user',
  gpt: 'assistant',
  assistant: 'assistant',
  function_call: 'assistant',
  observation: 'tool',
  tool: 'tool',
};

function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Which format a parsed row looks like, from its keys alone; null when it looks like none of them. */
export function shapeOf(row: Record<string, unknown>): DatasetFormat | null {
  if ('messages' in row) return 'openai';
  if ('conversations' in row) return 'sharegpt';
  if ('instruction' in row || 'output' in row) return 'alpaca';
  return null;
}

/** A list of turns with a role key and a text key; the same checks serve OpenAI and ShareGPT rows. */
function checkTurns(list: unknown, field: string, roleKey: string, textKey: string, roleOf: (r: string) => Role | undefined): RowCheck {
  if (!Array.isArray(list)) return { ok: false, reason: `"${field}" must be an array, got ${typeName(list)}` };
  if (list.length === 0) return { ok: false, reason: `"${field}" is empty` };
  const messages: Message[] = [];
  for (let i = 0; i < list.length; i++) {
    const turn = list[i];
    const at = `${field}[${i}]`;
    if (turn === null || typeof turn !== 'object' || Array.isArray(turn)) return { ok: false, reason: `${at} must be an object, got ${typeName(turn)}` };
    const rawRole = (turn as Record<string, unknown>)[roleKey];
    const text = (turn as Record<string, unknown>)[textKey];
    if (rawRole === undefined) return { ok: false, reason: `${at} has no "${roleKey}"` };
    if (typeof rawRole !== 'string') return { ok: false, reason: `${at}.${roleKey} must be a string, got ${typeName(rawRole)}` };
    const role = roleOf(rawRole);
    if (!role) return { ok: false, reason: `${at}.${roleKey} "${rawRole}" is not a known role` };
    if (text === undefined) return { ok: false, reason: `${at} has no "${textKey}"` };
    if (typeof text !== 'string') return { ok: false, reason: `${at}.${textKey} must be a string, got ${typeName(text)}` };
    if (text.trim() === '') return { ok: false, reason: `${at}.${textKey} is empty` };
    messages.push({ role, content: text });
  }
  // A row the model never answers in teaches it nothing.
  if (!messages.some((m) => m.role === 'assistant')) return { ok: false, reason: `"${field}" has no ${roleKey === 'from' ? 'gpt' : 'assistant'} turn` };
  return { ok: true, messages };
}

function checkAlpaca(row: Record<string, unknown>): RowCheck {
  const messages: Message[] = [];
  for (const key of ['instruction', 'output'] as const) {
    if (row[key] === undefined) return { ok: false, reason: `missing "${key}"` };
    if (typeof row[key] !== 'string') return { ok: false, reason: `"${key}" must be a string, got ${typeName(row[key])}` };
    if ((row[key] as string).trim() === '') return { ok: false, reason: `"${key}" is empty` };
  }
  for (const key of ['input', 'system'] as const) {
    if (row[key] !== undefined && typeof row[key] !== 'string') return { ok: false, reason: `"${key}" must be a string, got ${typeName(row[key])}` };
  }
  if (typeof row.system === 'string' && row.system.trim()) messages.push({ role: 'system', content: row.system });
  const input = typeof row.input === 'string' && row.input.trim() ? `\n\n${row.input}` : '';
  messages.push({ role: 'user', content: `${row.instruction}${input}` }, { role: 'assistant', content: row.output as string });
  return { ok: true, messages };
}

/** Checks one parsed row against a format and normalises it to messages. */
export function checkRow(format: DatasetFormat, row: Record<string, unknown>): RowCheck {
  switch (format) {
    case 'openai':
      return checkTurns(row.messages, 'messages', 'role', 'content', (r) => (OPENAI_ROLES.has(r) ? (r as Role) : undefined));
    case 'sharegpt':
      return checkTurns(row.conversations, 'conversations', 'from', 'value', (r) => SHAREGPT_ROLES[r]);
    case 'alpaca':
      return checkAlpaca(row);
  }
}
