'use client';

import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { ConfirmDialog } from '../../components/confirm-dialog';
import { DataTable } from '../../components/data-table';
import { Field } from '../../components/field';
import { useErrorToast, useToast } from '../../components/toast';
import { useBusyAction } from '../../components/use-busy-action';
import { useI18n } from '../../i18n/provider';
import { useTRPC, useTRPCClient, type RouterOutputs } from '../../lib/trpc';

type Settings = RouterOutputs['dataProtection']['settings'];
type Rule = Settings['rules'][number];
type Mode = 'block' | 'mask' | 'allow';
const EMPTY_RULE = { id: undefined as string | undefined, name: '', kind: 'regex' as 'regex' | 'keywords', pattern: '', level: 2, enabled: true };

/**
 * /admin/data-protection (issue 13): a box to test text against the rules, the organisation's own
 * patterns and keyword lists, the finding → level mapping, and what each deployment may receive.
 */
export default function DataProtectionPage() {
  const { t } = useI18n();
  const toast = useToast();
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  const settings = useQuery(trpc.dataProtection.settings.queryOptions());
  useErrorToast(settings.error);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.dataProtection.settings.queryKey() });
  const { busy, act } = useBusyAction(refresh);
  const data = settings.data;
  const levels = data?.levels ?? [];
  const typeName = (type: string) => (type.startsWith('custom:') ? type.slice(7) : t(`dp.type.${type}` as Parameters<typeof t>[0]));

  const [text, setText] = useState('');
  const [result, setResult] = useState<{ counts: Record<string, number>; level: number } | null>(null);
  const [rule, setRule] = useState(EMPTY_RULE);
  const [deleting, setDeleting] = useState<Rule | null>(null);
  const [policies, setPolicies] = useState<Record<string, { maxLevel: number; mode: Mode }>>({});

  const runTest = (e: FormEvent) => {
    e.preventDefault();
    void act(async () => setResult(await client.dataProtection.test.mutate({ text })));
  };
  const saveRule = (e: FormEvent) => {
    e.preventDefault();
    void act(
      () => client.dataProtection.saveRule.mutate({ ...rule, name: rule.name.trim() }),
      () => {
        toast.show(t('dp.ruleSaved'));
        setRule(EMPTY_RULE);
      },
    );
  };
  const policyOf = (d: Settings['deployments'][number]) => policies[d.id] ?? { maxLevel: d.maxLevel, mode: d.mode as Mode };

  return (
    <div className="manage-page" data-testid="data-protection-page">
      <h1>{t('dp.title')}</h1>
      <p className="muted">{t('dp.hint')}</p>

      <h2>{t('dp.test')}</h2>
      <form className="card" onSubmit={runTest}>
        <Field label={t('dp.test')} hint={t('dp.testHint')} full>
          <textarea rows={4} value={text} onChange={(e) => setText(e.target.value)} data-testid="dp-test-text" />
        </Field>
        <button type="submit" className="button button-primary" disabled={busy || !text} data-testid="dp-test-run">
          {t('dp.testRun')}
        </button>
        {result && (
          <div className="dp-counts" data-testid="dp-test-result">
            {Object.keys(result.counts).length === 0 ? (
              <p className="muted">{t('dp.testNone')}</p>
            ) : (
              <>
                <p>
                  <strong>{t('dp.testLevel', { level: levels[result.level] ?? String(result.level) })}</strong>
                </p>
                <table className="data-table">
                  <thead>
                    <tr>
                      <th>{t('dp.type')}</th>
                      <th>{t('dp.count')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {Object.entries(result.counts).map(([type, n]) => (
                      <tr key={type} data-testid="dp-test-row">
                        <td>{typeName(type)}</td>
                        <td>{n}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </>
            )}
          </div>
        )}
      </form>

      <h2>{t('dp.rules')}</h2>
      <p className="muted">{t('dp.rulesHint')}</p>
      <form className="card inline-form" onSubmit={saveRule} data-testid="dp-rule-form">
        <Field label={t('dp.ruleName')}>
          <input required value={rule.name} onChange={(e) => setRule({ ...rule, name: e.target.value })} data-testid="dp-rule-name" />
        </Field>
        <Field label={t('dp.ruleKind')}>
          <select value={rule.kind} onChange={(e) => setRule({ ...rule, kind: e.target.value as 'regex' | 'keywords' })} data-testid="dp-rule-kind">
            <option value="regex">{t('dp.kind.regex')}</option>
            <option value="keywords">{t('dp.kind.keywords')}</option>
          </select>
        </Field>
        <Field label={t('dp.rulePattern')} wide>
          <textarea rows={rule.kind === 'keywords' ? 4 : 1} required value={rule.pattern} onChange={(e) => setRule({ ...rule, pattern: e.target.value })} data-testid="dp-rule-pattern" />
        </Field>
        <Field label={t('dp.ruleLevel')}>
          <select value={rule.level} onChange={(e) => setRule({ ...rule, level: Number(e.target.value) })}>
            {levels.map((n, i) => (
              <option key={n} value={i}>
                {n}
              </option>
            ))}
          </select>
        </Field>
        <label className="field field-narrow">
          <span>{t('dp.ruleEnabled')}</span>
          <input type="checkbox" checked={rule.enabled} onChange={(e) => setRule({ ...rule, enabled: e.target.checked })} />
        </label>
        <button type="submit" className="button button-primary" disabled={busy || !rule.name.trim() || !rule.pattern} data-testid="dp-rule-save">
          {t('dp.ruleSave')}
        </button>
      </form>
      <DataTable
        testId="dp-rules"
        head={
          <>
            <th>{t('dp.ruleName')}</th>
            <th>{t('dp.ruleKind')}</th>
            <th>{t('dp.rulePattern')}</th>
            <th>{t('dp.ruleLevel')}</th>
            <th>{t('dp.ruleEnabled')}</th>
            <th />
          </>
        }
        columns={6}
        loading={!data}
        empty={data?.rules.length === 0 && t('dp.noRules')}
      >
        {data?.rules.map((r) => (
          <tr key={r.id}>
            <td>{r.name}</td>
            <td>{t(`dp.kind.${r.kind}`)}</td>
            <td>
              <code>{r.pattern.length > 80 ? `${r.pattern.slice(0, 80)}…` : r.pattern}</code>
            </td>
            <td>{levels[r.level]}</td>
            <td>{r.enabled ? '✓' : '—'}</td>
            <td>
              <button type="button" className="text-button" onClick={() => setRule({ id: r.id, name: r.name, kind: r.kind, pattern: r.pattern, level: r.level, enabled: r.enabled })}>
                {t('dp.ruleEdit')}
              </button>{' '}
              <button type="button" className="text-button danger" disabled={busy} onClick={() => setDeleting(r)}>
                {t('common.delete')}
              </button>
            </td>
          </tr>
        ))}
      </DataTable>

      <h2>{t('dp.findingLevels')}</h2>
      <p className="muted">{t('dp.findingLevelsHint')}</p>
      <DataTable
        testId="dp-finding-levels"
        head={
          <>
            <th>{t('dp.type')}</th>
            <th>{t('dp.ruleLevel')}</th>
          </>
        }
        columns={2}
        loading={!data}
      >
        {data?.findingLevels.map((f) => (
          <tr key={f.type}>
            <td>{typeName(f.type)}</td>
            <td>
              <select
                value={f.level}
                disabled={busy}
                onChange={(e) => void act(() => client.dataProtection.setFindingLevel.mutate({ findingType: f.type, level: Number(e.target.value) }), () => toast.show(t('dp.saved')))}
                data-testid={`dp-finding-level-${f.type}`}
              >
                {levels.map((n, i) => (
                  <option key={n} value={i}>
                    {n}
                    {i === f.defaultLevel ? ` (${t('dp.default', { level: n })})` : ''}
                  </option>
                ))}
              </select>
            </td>
          </tr>
        ))}
      </DataTable>

      <h2>{t('dp.deployments')}</h2>
      <p className="muted">{t('dp.deploymentsHint')}</p>
      <DataTable
        testId="dp-deployments"
        head={
          <>
            <th>{t('dp.deployment')}</th>
            <th>{t('dp.engine')}</th>
            <th>{t('dp.maxLevel')}</th>
            <th>{t('dp.mode')}</th>
            <th />
          </>
        }
        columns={5}
        loading={!data}
      >
        {data?.deployments.map((d) => {
          const p = policyOf(d);
          return (
            <tr key={d.id} data-testid="dp-deployment-row">
              <td>
                {d.name} {d.isDefault && <span className="muted">{t('dp.isDefault')}</span>}
              </td>
              <td>{d.engine}</td>
              <td>
                <select value={p.maxLevel} onChange={(e) => setPolicies({ ...policies, [d.id]: { ...p, maxLevel: Number(e.target.value) } })} data-testid={`dp-max-${d.name}`}>
                  {levels.map((n, i) => (
                    <option key={n} value={i}>
                      {n}
                    </option>
                  ))}
                </select>
              </td>
              <td>
                <select value={p.mode} onChange={(e) => setPolicies({ ...policies, [d.id]: { ...p, mode: e.target.value as Mode } })} data-testid={`dp-mode-${d.name}`}>
                  {(['block', 'mask', 'allow'] as const).map((m) => (
                    <option key={m} value={m}>
                      {t(`dp.mode.${m}`)}
                    </option>
                  ))}
                </select>
              </td>
              <td>
                <button
                  type="button"
                  className="button"
                  disabled={busy}
                  onClick={() => void act(() => client.dataProtection.setDeploymentPolicy.mutate({ deploymentId: d.id, ...p }), () => toast.show(t('dp.saved')))}
                  data-testid={`dp-save-${d.name}`}
                >
                  {t('common.save')}
                </button>
              </td>
            </tr>
          );
        })}
      </DataTable>

      {deleting && (
        <ConfirmDialog
          message={t('dp.confirmDelete', { name: deleting.name })}
          confirmLabel={t('common.delete')}
          onCancel={() => setDeleting(null)}
          onConfirm={() => {
            const id = deleting.id;
            setDeleting(null);
            void act(() => client.dataProtection.deleteRule.mutate({ id }), () => toast.show(t('dp.ruleDeleted')));
          }}
        />
      )}
    </div>
  );
}
