/**
 * The chat template for models without one of their own (stories260K has none): plain `User:`/`Assistant:`
 * turns. Kept in one place so the prompt format and the stop that ends a turn cannot drift apart.
 */
export type ChatTurn = { role: 'system' | 'developer' | 'user' | 'assistant' | 'tool'; content: string };

/** Generation ends where the model starts writing the user's next turn. */
export const CHAT_TURN_STOPS = ['\nUser:'];

export function renderChatPrompt(turns: ChatTurn[]): string {
  const lines: string[] = [];
  for (const turn of turns) {
    if (turn.role === 'system' || turn.role === 'developer') lines.push(turn.content);
    else if (turn.role === 'assistant') lines.push(`Assistant: ${turn.content}`);
    else lines.push(`User: ${turn.content}`);
  }
  lines.push('Assistant:');
  return lines.join('\n');
}
