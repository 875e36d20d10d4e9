'use client';

import { useI18n } from '../../i18n/provider';

export type ContextPolicy = { policy: 'summarize' | 'trim' | 'turns'; turns: number | null };

/**
 * The conversation's context policy (server/chat/context): what happens to older turns once the
 * history outgrows the model's context. Saved on the conversation, so it holds on every device.
 */
export function ContextPolicyMenu({ value, onChange }: { value: ContextPolicy; onChange(next: ContextPolicy): void }) {
  const { t } = useI18n();
  const label =
    value.policy === 'turns' ? t('context.policy.turns', { turns: String(value.turns ?? 1) }) : t(value.policy === 'trim' ? 'context.policy.trim' : 'context.policy.summarize');
  return (
    <details className="menu menu-up">
      <summary className="button button-quiet context-button" data-testid="context-policy">
        {t('context.button', { policy: label })}
      </summary>
      <div className="menu-panel card settings-panel" role="radiogroup" aria-label={t('context.title')}>
        <strong>{t('context.title')}</strong>
        <span className="muted">{t('context.hint')}</span>
        {(['summarize', 'trim', 'turns'] as const).map((policy) => (
          <label key={policy} className="radio-row">
            <input
              type="radio"
              name="context-policy"
              checked={value.policy === policy}
              onChange={() => onChange({ policy, turns: policy === 'turns' ? (value.turns ?? 6) : null })}
              data-testid={`context-${policy}`}
            />
            {t(`context.option.${policy}`)}
          </label>
        ))}
        {value.policy === 'turns' && (
          <label className="field">
            <span>{t('context.turns')}</span>
            <input
              type="number"
              min={1}
              max={1000}
              value={value.turns ?? 6}
              onChange={(e) => {
                const turns = Math.min(1000, Math.max(1, Math.round(Number(e.target.value) || 1)));
                onChange({ policy: 'turns', turns });
              }}
              data-testid="context-turn-count"
            />
          </label>
        )}
      </div>
    </details>
  );
}

/** In the thread, after the message a summary reaches: what the model now sees in place of the turns above. */
export function SummaryMarker({ covered, text, model }: { covered: number; text: string; model: string | null }) {
  const { t } = useI18n();
  return (
    <details className="context-marker" data-testid="summary-marker">
      <summary>{t('context.summaryMarker', { count: String(covered) })}</summary>
      <p>{text}</p>
      {model && <p className="muted">{t('context.summaryModel', { model })}</p>}
    </details>
  );
}

/** Before a reply whose question went out without some older turns. */
export function TrimMarker({ count }: { count: number }) {
  const { t } = useI18n();
  return (
    <div className="context-marker context-marker-trim" data-testid="trim-marker">
      {t('context.trimMarker', { count: String(count) })}
    </div>
  );
}
