import { createServer, type Server } from 'node:http';
import { createApiKeyCheck } from './api-key';
import { handleCompletion } from './completions-handler';
import { handleEmbeddings } from './embeddings';
import type { LlamaCppEngine } from './engine';
import { EngineError } from './errors';
import { sendError, sendJson } from './http-io';

const startedAt = Math.floor(Date.now() / 1000);

/** The engine's OpenAI-compatible HTTP surface, with vLLM's /health and /metrics, and vLLM's API key check. */
export function createEngineServer(engine: LlamaCppEngine, opts: { apiKey?: string } = {}): Server {
  const checkApiKey = createApiKeyCheck(opts.apiKey);
  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const route = `${req.method} ${path}`;
    try {
      // Before anything else, the body included: a caller without the secret costs no parsing.
      checkApiKey(req, path);
      switch (route) {
        case 'GET /health':
          if (engine.isStopping) throw new EngineError(503, 'The engine is shutting down.', 'server_error');
          sendJson(res, 200, { status: 'ok', model: engine.name });
          return;
        case 'GET /v1/models':
          sendJson(res, 200, {
            object: 'list',
            data: [{ id: engine.name, object: 'model', created: startedAt, owned_by: 'enclave', max_model_len: engine.contextSize }],
          });
          return;
        case 'GET /metrics': {
          const text = await engine.metrics.registry.metrics();
          res.writeHead(200, { 'content-type': engine.metrics.registry.contentType });
          res.end(text);
          return;
        }
        case 'POST /v1/chat/completions':
          if (engine.isStopping) throw new EngineError(503, 'The engine is shutting down.', 'server_error');
          await handleCompletion(engine, 'chat', req, res);
          return;
        case 'POST /v1/completions':
          if (engine.isStopping) throw new EngineError(503, 'The engine is shutting down.', 'server_error');
          await handleCompletion(engine, 'completion', req, res);
          return;
        case 'POST /v1/embeddings':
          if (engine.isStopping) throw new EngineError(503, 'The engine is shutting down.', 'server_error');
          await handleEmbeddings(engine, req, res);
          return;
        default:
          throw new EngineError(404, `No route for ${req.method} ${path}.`, 'invalid_request_error', null, 'not_found');
      }
    } catch (error) {
      if (error instanceof EngineError) {
        sendError(res, error);
        return;
      }
      // Never the message: it could quote a prompt. The stack stays on stderr for the operator.
      process.stderr.write(`request ${route} failed: ${error instanceof Error ? (error.stack ?? error.name) : 'unknown error'}\n`);
      sendError(res, new EngineError(500, 'The engine failed to handle this request.', 'server_error'));
    }
  });
  // Idle keep-alive sockets must not hold the process open at shutdown.
  server.keepAliveTimeout = 5_000;
  return server;
}
