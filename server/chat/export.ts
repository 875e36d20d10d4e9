import type { ChatMessage } from './messages';

export interface ExportedConversation {
  id: string;
  title: string;
  model: string | null;
  createdAt: Date;
  updatedAt: Date;
  messages: ChatMessage[];
}

/** Every message with its parentId, so all branches survive the round trip; a message's images as their data: URLs (`images`). */
export function conversationToJson(c: ExportedConversation): string {
  return JSON.stringify({ format: 'enclave.conversation.v1', ...c }, null, 2) + '\n';
}

/** The branch that ends at the newest message: what the user last saw on screen. */
export function latestBranch(messages: ChatMessage[]): ChatMessage[] {
  if (messages.length === 0) return [];
  const byId = new Map(messages.map((m) => [m.id, m]));
  let newest = messages[0]!;
  for (const m of messages) if (m.createdAt >= newest.createdAt) newest = m;
  const branch: ChatMessage[] = [];
  for (let m: ChatMessage | undefined = newest; m; m = m.parentId ? byId.get(m.parentId) : undefined) branch.unshift(m);
  return branch;
}

const ROLE_HEADINGS = { user: 'User', assistant: 'Assistant', system: 'System' } as const;

/** A message's images in Markdown: each embedded as its data: URL, its alt text saying what it is. */
function imagesMarkdown(images: readonly string[] | undefined): string[] {
  if (!images?.length) return [];
  return [
    images
      .map((url, i) => {
        const type = /^data:(image\/[a-z0-9.+-]+)/i.exec(url)?.[1] ?? 'image';
        const comma = url.indexOf(',');
        const kib = Math.max(1, Math.round(((url.length - comma - 1) * 3) / 4 / 1024));
        return `![image ${i + 1} (${type}, ${kib} KiB)](${url})`;
      })
      .join('\n'),
    '',
  ];
}

/** Markdown of the latest branch; message text is kept verbatim (it is Markdown already), images embedded. */
export function conversationToMarkdown(c: ExportedConversation): string {
  const title = c.title || 'Conversation';
  const lines = [`# ${title.replace(/\n/g, ' ')}`, '', `- Model: ${c.model ?? 'none'}`, `- Exported: ${new Date().toISOString()}`, ''];
  for (const m of latestBranch(c.messages)) {
    const model = m.role === 'assistant' && m.model ? ` (${m.model})` : '';
    lines.push(`## ${ROLE_HEADINGS[m.role]}${model}`, '', ...imagesMarkdown(m.images), m.content, '');
  }
  return lines.join('\n');
}

/** A file name safe in a Content-Disposition header on every platform. */
export function exportFileName(c: Pick<ExportedConversation, 'id' | 'title'>, ext: 'json' | 'md'): string {
  const base = c.title.replace(/[^\p{L}\p{N} _-]+/gu, '').trim().replace(/\s+/g, '-').slice(0, 60) || `conversation-${c.id.slice(0, 8)}`;
  return `${base}.${ext}`;
}
