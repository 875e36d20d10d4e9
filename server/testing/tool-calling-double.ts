import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A SCRIPTED TOOL-CALLING DOUBLE of an OpenAI-compatible engine (the bundled stories260K model cannot
 * call tools). POST /v1/chat/completions, streamed (SSE with usage) or not:
 * - offered `tools` and the last message is not a `tool` result: it calls the first tool offered (or
 *   `script.tool`) with `script.arguments`, streaming the call in pieces as OpenAI does;
 * - the last message is a `tool` result: it answers "The tool said: <result>";
 * - otherwise: "No tool was offered." It records every request body.
 */
export interface ToolCallingScript {
  tool?: string;
  arguments: Record<string, unknown>;
}

export interface ToolCallingDouble {
  url: string;
  requests: Record<string, unknown>[];
  set(script: Partial<ToolCallingScript>): void;
  close(): Promise<void>;
}

type Message = { role: string; content?: unknown; tool_call_id?: string };

function answerFor(body: Record<string, unknown>, script: ToolCallingScript): { text: string } | { call: { name: string; arguments: string } } {
  const messages = (body.messages as Message[] | undefined) ?? [];
  const last = messages.at(-1);
  if (last?.role === 'tool') return { text: `The tool said: ${String(last.content)}` };
  const tools = (body.tools as { function?: { name?: string } }[] | undefined) ?? [];
  const name = script.tool ?? tools[0]?.function?.name;
  if (tools.length && name) return { call: { name, arguments: JSON.stringify(script.arguments) } };
  return { text: 'No tool was offered.' };
}

export async function startToolCallingDouble(initial: Partial<ToolCallingScript> = {}): Promise<ToolCallingDouble> {
  let script: ToolCallingScript = { arguments: { city: 'Oslo' }, ...initial };
  const requests: Record<string, unknown>[] = [];
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/health' || req.url === '/v1/models')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(req.url === '/health' ? '' : JSON.stringify({ object: 'list', data: [{ id: 'tool-double', object: 'model' }] }));
    }
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return res.writeHead(404).end();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      requests.push(body);
      const answer = answerFor(body, script);
      const model = String(body.model ?? 'tool-double');
      const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
      const base = { id: `chatcmpl-${requests.length}`, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model };
      const callId = `call_${requests.length}`;
      if (!body.stream) {
        const message = 'text' in answer ? { role: 'assistant', content: answer.text } : { role: 'assistant', content: null, tool_calls: [{ id: callId, type: 'function', function: answer.call }] };
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ ...base, object: 'chat.completion', choices: [{ index: 0, message, finish_reason: 'text' in answer ? 'stop' : 'tool_calls' }], usage }));
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const send = (choices: unknown[], extra: Record<string, unknown> = {}) => res.write(`data: ${JSON.stringify({ ...base, choices, ...extra })}\n\n`);
      if ('text' in answer) {
        for (const word of answer.text.split(/(?<= )/)) send([{ index: 0, delta: { content: word }, finish_reason: null }]);
        send([{ index: 0, delta: {}, finish_reason: 'stop' }]);
      } else {
        // As OpenAI streams a call: the id and name first, then the arguments in pieces.
        const args = answer.call.arguments;
        const half = Math.ceil(args.length / 2);
        send([{ index: 0, delta: { role: 'assistant', content: null, tool_calls: [{ index: 0, id: callId, type: 'function', function: { name: answer.call.name, arguments: '' } }] }, finish_reason: null }]);
        send([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: args.slice(0, half) } }] }, finish_reason: null }]);
        send([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: args.slice(half) } }] }, finish_reason: null }]);
        send([{ index: 0, delta: {}, finish_reason: 'tool_calls' }]);
      }
      if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage) send([], { usage });
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    set: (next) => (script = { ...script, ...next }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
