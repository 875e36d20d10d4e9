// Pure (no Node APIs): the browser's form uses it too, so a file is read the same way on both sides.

/** One prompt per line of plain text, or JSON lines with a `prompt` or `text` field (or chat `messages`). */
export function parsePromptFile(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (!t) continue;
    if (t.startsWith('{')) {
      let row: Record<string, unknown>;
      try {
        row = JSON.parse(t) as Record<string, unknown>;
      } catch {
        throw new Error(`line ${out.length + 1} starts with { but is not JSON`);
      }
      const messages = Array.isArray(row.messages) ? row.messages : null;
      const fromMessages = messages
        ?.map((m) => (m && typeof m === 'object' && typeof (m as { content?: unknown }).content === 'string' ? (m as { content: string }).content : ''))
        .join('\n');
      const value = typeof row.prompt === 'string' ? row.prompt : typeof row.text === 'string' ? row.text : fromMessages;
      if (!value) throw new Error(`line ${out.length + 1} has no "prompt", "text" or "messages"`);
      out.push(value);
    } else out.push(t);
  }
  return out;
}
