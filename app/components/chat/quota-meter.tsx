'use client';

import { useQuery } from '@tanstack/react-query';
import { useI18n } from '../../i18n/provider';
import { useTRPC } from '../../lib/trpc';

/**
 * What is left of the signed-in user's quota (the one the chat is held to), as a small meter under the
 * composer, and the refusal's message when a turn was refused for it. Nothing when no quota applies.
 */
export function QuotaMeter({ refusal }: { refusal: string | null }) {
  const { t, locale } = useI18n();
  const trpc = useTRPC();
  const mine = useQuery({ ...trpc.quotas.mine.queryOptions(), refetchInterval: 30_000 });
  const n = (v: number) => v.toLocaleString(locale);
  const rows: { key: string; text: string; share: number }[] = [];
  // The user's own limits, then each group pool they draw from (named, since its members share it).
  for (const { kind, group, limits, usage } of mine.data?.subjects ?? []) {
    if (!usage) continue;
    const own: typeof rows = [];
    const label = (text: string) => (group === null ? text : t('quotas.meter.group', { group, text }));
    if (limits.tokensPerDay !== null)
      own.push({ key: `${kind}${group}day`, text: label(t('quotas.meter.today', { used: n(usage.tokensToday), limit: n(limits.tokensPerDay) })), share: usage.tokensToday / limits.tokensPerDay });
    if (limits.tokensPerMonth !== null)
      own.push({
        key: `${kind}${group}month`,
        text: label(t('quotas.meter.month', { used: n(usage.tokensThisMonth), limit: n(limits.tokensPerMonth) })),
        share: usage.tokensThisMonth / limits.tokensPerMonth,
      });
    if (limits.requestsPerMinute !== null && own.length === 0)
      own.push({
        key: `${kind}${group}minute`,
        text: label(t('quotas.meter.minute', { used: n(usage.requestsThisMinute), limit: n(limits.requestsPerMinute) })),
        share: usage.requestsThisMinute / limits.requestsPerMinute,
      });
    rows.push(...own);
  }
  if (rows.length === 0 && !refusal) return null;
  return (
    <div className="quota-meter" data-testid="quota-meter" style={{ display: 'grid', gap: 4, marginBottom: 6 }}>
      {refusal && (
        <div className="quota-refusal" role="alert" data-testid="quota-message">
          <strong>{t('quotas.reached', { message: refusal })}</strong> <span className="muted">{t('quotas.reachedHint')}</span>
        </div>
      )}
      {rows.map((r) => (
        <div key={r.key} className="quota-meter-row" title={r.text} style={{ display: 'flex', alignItems: 'center', gap: 8 }}>
          <meter min={0} max={1} low={0.7} high={0.9} optimum={0} value={Math.min(1, r.share)} aria-label={r.text} />
          <small className="muted">{r.text}</small>
        </div>
      ))}
    </div>
  );
}
