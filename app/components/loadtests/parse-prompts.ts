import { parsePromptFile } from '../../../server/evaluation/loadtest/prompt-file';

/** The uploaded prompt set as a list; an empty file is an error the form shows before sending. */
export function parsePrompts(text: string): string[] {
  const prompts = parsePromptFile(text);
  if (prompts.length === 0) throw new Error('The prompt set is empty');
  return prompts;
}
