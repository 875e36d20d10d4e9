import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { EngineError } from './errors';

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * vLLM's --api-key, copied: every path under /v1 (completions and the model list) needs
 * `Authorization: Bearer <key>`; /health stays open for the supervisor's probes and /metrics for the
 * reconciler's scrapes (counts and latencies, no content), as on vLLM, so one prober serves both engines.
 * Both sides are hashed first, so the comparison takes the same time whatever the guess's length or prefix.
 * Without a key (tests, benchmarks) nothing is checked: the supervisor always starts engines with one.
 */
export function createApiKeyCheck(apiKey: string | undefined): (req: IncomingMessage, path: string) => void {
  if (!apiKey) return () => {};
  const expected = digest(apiKey);
  return (req, path) => {
    if (!path.startsWith('/v1')) return;
    const header = req.headers.authorization ?? '';
    const space = header.indexOf(' ');
    const presented = space > 0 && header.slice(0, space).toLowerCase() === 'bearer' ? header.slice(space + 1) : '';
    if (presented && timingSafeEqual(digest(presented), expected)) return;
    throw new EngineError(401, "This engine answers only with its replica's secret: call the model through the Enclave gateway.", 'invalid_request_error', null, 'invalid_api_key');
  };
}
