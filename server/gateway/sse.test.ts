import { expect, test } from 'vitest';
import { completeEventsEnd, containsToken, findUsageEvent } from './sse';

const b = (s: string) => Buffer.from(s);

test('the first token is found by bytes: non-empty content or text, or a tool call; never the role chunk', () => {
  expect(containsToken(b('data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n'))).toBe(false);
  expect(containsToken(b('data: {"choices":[{"delta":{"content":"Once"}}]}\n\n'))).toBe(true);
  expect(containsToken(b('data: {"choices":[{"delta": {"content": "spaced"}}]}\n\n'))).toBe(true);
  expect(containsToken(b('data: {"choices":[{"text":"","finish_reason":null}]}\n\n'))).toBe(false);
  expect(containsToken(b('data: {"choices":[{"text":"x"}]}\n\n'))).toBe(true);
  expect(containsToken(b('data: {"choices":[{"delta":{"tool_calls":[{"id":"c"}]}}]}\n\n'))).toBe(true);
  expect(containsToken(b('data: {"choices":[{"delta":{"content":null}}]}\n\n'))).toBe(false);
});

test('events are cut at the last complete boundary, LF or CRLF', () => {
  expect(completeEventsEnd(b('data: a\n\n'))).toBe(9);
  expect(completeEventsEnd(b('data: a\n\ndata: b'))).toBe(9);
  expect(completeEventsEnd(b('data: a'))).toBe(0);
  expect(completeEventsEnd(b('data: a\r\n\r\ndata: b'))).toBe(11);
});

test('usage is read from its event, which is marked removable only when it carries no choices', () => {
  const usageOnly = 'data: {"id":"x","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}\n\n';
  const before = 'data: {"id":"x","choices":[{"delta":{"content":"é"}}],"usage":null}\n\n';
  const buf = b(before + usageOnly + 'data: [DONE]\n\n');
  const found = findUsageEvent(buf)!;
  expect(found).toMatchObject({ promptTokens: 12, completionTokens: 7, usageOnly: true });
  expect(buf.subarray(found.start, found.end).toString()).toBe(usageOnly);
  const attached = findUsageEvent(b('data: {"choices":[{"delta":{},"finish_reason":"stop"}],"usage": {"prompt_tokens":1,"completion_tokens":2}}\n\n'));
  expect(attached).toMatchObject({ promptTokens: 1, completionTokens: 2, usageOnly: false });
  expect(findUsageEvent(b(before))).toBeUndefined();
});
