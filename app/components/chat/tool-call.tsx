'use client';

import { useI18n } from '../../i18n/provider';

/** A tool call as the reply's metadata records it (server/chat/tool-rounds.ts). */
interface ToolCallView {
  callId?: string;
  tool: string;
  status: string;
  durationMs: number;
  arguments?: string;
  result?: string;
  truncated?: boolean;
}

// Long results wrap and scroll inside the block rather than widening the thread.
const PRE = { whiteSpace: 'pre-wrap', overflowX: 'auto', maxHeight: 240, margin: 0 } as const;

const isCall = (v: unknown): v is ToolCallView => typeof v === 'object' && v !== null && typeof (v as ToolCallView).tool === 'string';

/** Pretty JSON when it is JSON, the text as it came otherwise. */
function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** The tool calls a reply made, each a collapsed block: the tool, its status and time; opened, its arguments and result. */
export function ToolCalls({ calls }: { calls: unknown }) {
  const { t } = useI18n();
  if (!Array.isArray(calls)) return null;
  return (
    <div className="tool-calls" data-testid="tool-calls">
      {calls.filter(isCall).map((call, i) => (
        <details key={call.callId ?? i} className={`context-marker tool-call tool-call-${call.status === 'ok' ? 'ok' : 'failed'}`} data-testid="tool-call">
          <summary>{t('toolCall.summary', { tool: call.tool, status: call.status, ms: String(call.durationMs) })}</summary>
          <p className="muted">{t('toolCall.arguments')}</p>
          <pre style={PRE} data-testid="tool-call-arguments">{pretty(call.arguments ?? '')}</pre>
          <p className="muted">{t('toolCall.result')}</p>
          <pre style={PRE} data-testid="tool-call-result">{pretty(call.result ?? '')}</pre>
          {call.truncated && <p className="muted">{t('toolCall.truncated')}</p>}
        </details>
      ))}
    </div>
  );
}
