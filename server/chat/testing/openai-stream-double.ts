import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A TEST DOUBLE of the gateway's /v1/chat/completions, for chat tests that run without the real
 * gateway. It speaks the real protocol (OpenAI SSE chunks, include_usage, error objects) and checks
 * the web role's credentials the way the gateway does. Models:
 *   - `unknown` → 404, `forbidden` → 403 (OpenAI error objects), as the gateway answers;
 *   - `fails-midway` → two pieces, then an error chunk;
 *   - `slow` → like any other, one piece every 25 ms (time to press stop);
 *   - anything else → pieces "w0 ", "w1 ", ... up to max_tokens, every `pieceDelayMs`.
 */
export async function startOpenAIStreamDouble(opts: { token: string; pieceDelayMs?: number }) {
  const requests: { userId: string; body: any }[] = [];
  const openStreams = new Set<http.ServerResponse>();
  let closedEarly = 0;

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const fail = (status: number, message: string, type: string) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message, type, param: null, code: null } }));
    };
    if (req.url !== '/v1/chat/completions' || req.method !== 'POST') return fail(404, 'no such route', 'invalid_request_error');
    if (req.headers.authorization !== `Bearer ${opts.token}` || !req.headers['x-enclave-user-id']) return fail(401, 'Invalid API key', 'invalid_api_key');
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    requests.push({ userId: String(req.headers['x-enclave-user-id']), body });
    if (body.model === 'unknown') return fail(404, `The model 'unknown' does not exist`, 'invalid_request_error');
    if (body.model === 'forbidden') return fail(403, `You may not use the model 'forbidden'`, 'permission_error');

    res.writeHead(200, { 'content-type': 'text/event-stream' });
    openStreams.add(res);
    let stopped = false;
    res.on('close', () => {
      openStreams.delete(res);
      if (!res.writableFinished) {
        stopped = true;
        closedEarly++;
      }
    });
    const chunk = (delta: object, finish: string | null = null) =>
      res.write(`data: ${JSON.stringify({ id: 'chatcmpl-double', object: 'chat.completion.chunk', model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`);
    const wait = () => new Promise((r) => setTimeout(r, body.model === 'slow' ? 25 : (opts.pieceDelayMs ?? 2)));

    chunk({ role: 'assistant', content: '' });
    const pieces = body.model === 'fails-midway' ? 2 : body.max_tokens;
    for (let i = 0; i < pieces && !stopped; i++) {
      await wait();
      chunk({ content: `w${i} ` });
    }
    if (stopped) return;
    if (body.model === 'fails-midway') {
      res.end(`data: ${JSON.stringify({ error: { message: 'The engine went away', type: 'server_error' } })}\n\n`);
      return;
    }
    chunk({}, 'length');
    if (body.stream_options?.include_usage)
      res.write(`data: ${JSON.stringify({ id: 'chatcmpl-double', object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 7, completion_tokens: pieces, total_tokens: 7 + pieces } })}\n\n`);
    res.end('data: [DONE]\n\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    closedEarly: () => closedEarly,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of openStreams) s.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
