import type { IncomingMessage, ServerResponse } from 'node:http';
import { CHAT_TURN_STOPS, renderChatPrompt } from './chat-template';
import type { LlamaCppEngine } from './engine';
import { EngineError } from './errors';
import { readJsonBody, sendJson, startEventStream } from './http-io';
import { fullResponse, newResponseId, streamChunk, usageChunk, type Endpoint } from './openai-format';
import { parseChatRequest, parseCompletionRequest } from './request-schema';

/** POST /v1/chat/completions and /v1/completions: parse, queue for a sequence, stream or answer whole. */
export async function handleCompletion(engine: LlamaCppEngine, endpoint: Endpoint, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const arrivedAt = performance.now();
  // The client leaving before the response ends aborts the generation and frees its sequence.
  const disconnect = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) disconnect.abort(new Error('client disconnected'));
  });

  const body = await readJsonBody(req);
  const request = endpoint === 'chat' ? parseChatRequest(body) : parseCompletionRequest(body);
  if (request.model !== undefined && request.model !== engine.name) {
    throw new EngineError(404, `The model '${request.model}' does not exist.`, 'invalid_request_error', 'model', 'model_not_found');
  }
  // The messages' own text is less than the rendered prompt: too long already, it is refused before rendering copies it.
  if ('turns' in request) engine.refuseOversized(request.turns.reduce((bytes, turn) => bytes + Buffer.byteLength(turn.content), 0));
  const promptText = 'turns' in request ? renderChatPrompt(request.turns) : request.prompt;
  const stops = endpoint === 'chat' ? [...request.stop, ...CHAT_TURN_STOPS] : request.stop;
  const prompt = await engine.prepare(promptText, { ...request, stop: stops }, endpoint === 'chat');
  const head = { id: newResponseId(endpoint), created: Math.floor(Date.now() / 1000), model: engine.name, includeUsage: request.includeUsage };

  if (!request.stream) {
    let text = '';
    const outcome = await engine.generate(prompt, disconnect.signal, arrivedAt, (piece) => (text += piece));
    if (!outcome.aborted) sendJson(res, 200, fullResponse(endpoint, head, text, outcome));
    return;
  }

  const send = startEventStream(res);
  if (endpoint === 'chat') send(streamChunk(endpoint, head, { role: 'assistant' }));
  try {
    const outcome = await engine.generate(prompt, disconnect.signal, arrivedAt, (text) => send(streamChunk(endpoint, head, { text })));
    if (outcome.aborted) {
      res.end();
      return;
    }
    send(streamChunk(endpoint, head, { finishReason: outcome.finishReason }));
    if (request.includeUsage) send(usageChunk(endpoint, head, outcome));
    send('[DONE]');
    res.end();
  } catch (error) {
    // Headers are gone; the stream's own error event is the only way left to say what happened.
    const failure = error instanceof EngineError ? error : new EngineError(500, 'Generation failed.', 'server_error', null, null);
    send(failure.toBody());
    res.end();
    if (!(error instanceof EngineError)) throw error;
  }
}

