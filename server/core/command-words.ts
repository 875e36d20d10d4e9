/**
 * A command line from configuration as argv words: "a b c", or '["a", "b c"]' (a JSON array, for a
 * path with spaces). Never through a shell. `setting` names the variable in the error.
 */
export function commandWords(text: string, setting: string): string[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    const words = JSON.parse(trimmed) as unknown;
    if (!Array.isArray(words) || !words.length || !words.every((w) => typeof w === 'string')) throw new Error(`${setting}: a JSON array of strings`);
    return words as string[];
  }
  return trimmed.split(/\s+/).filter(Boolean);
}
