import type { IncomingMessage, ServerResponse } from 'node:http';
import { metricsRegistry } from '../core/metrics';

export async function handleMetrics(_req: IncomingMessage, res: ServerResponse) {
  const registry = metricsRegistry();
  const body = await registry.metrics();
  res.writeHead(200, { 'content-type': registry.contentType });
  res.end(body);
}
