import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A TEST DOUBLE of the gateway's /v1/chat/completions for arena tests: each model answers a scripted
 * text, word by word, in OpenAI's streaming format, and the double checks the web role's internal
 * token as the gateway does. A model listed in `refuse` answers 503 like a gateway with no ready
 * replica. Any other model answers "A plain answer from a model.".
 */
export async function startScriptedGatewayDouble(opts: { token: string; answers?: Record<string, string>; refuse?: string[]; pieceDelayMs?: number }) {
  const requests: { userId: string; model: string; body: any }[] = [];
  const open = new Set<http.ServerResponse>();
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const fail = (status: number, message: string) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message, type: 'server_error', param: null, code: null } }));
    };
    if (req.url !== '/v1/chat/completions' || req.headers.authorization !== `Bearer ${opts.token}`) return fail(401, 'Invalid API key');
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    requests.push({ userId: String(req.headers['x-enclave-user-id']), model: body.model, body });
    if (opts.refuse?.includes(body.model)) return fail(503, `The model '${body.model}' has no ready replica`);

    res.writeHead(200, { 'content-type': 'text/event-stream' });
    open.add(res);
    res.on('close', () => open.delete(res));
    const words = (opts.answers?.[body.model] ?? 'A plain answer from a model.').split(/(?<= )/);
    const chunk = (payload: object) => res.write(`data: ${JSON.stringify({ id: 'chatcmpl-double', object: 'chat.completion.chunk', model: body.model, ...payload })}\n\n`);
    for (const word of words.slice(0, body.max_tokens)) {
      if (res.destroyed) return;
      await new Promise((r) => setTimeout(r, opts.pieceDelayMs ?? 2));
      chunk({ choices: [{ index: 0, delta: { content: word }, finish_reason: null }] });
    }
    chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
    chunk({ choices: [], usage: { prompt_tokens: 5, completion_tokens: words.length, total_tokens: 5 + words.length } });
    res.end('data: [DONE]\n\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
