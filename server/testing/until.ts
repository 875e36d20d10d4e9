/**
 * Polls `probe` every `everyMs` until it returns something truthy, and returns it; fails naming `what`
 * after the timeout. What a test waits for, instead of a sleep sized for a fast machine.
 */
export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
