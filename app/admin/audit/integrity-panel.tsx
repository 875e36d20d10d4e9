'use client';

import { useQuery, useQueryClient } from '@tanstack/react-query';
import { formatDateTime } from '../../components/format';
import { useToast } from '../../components/toast';
import type { MessageKey } from '../../i18n/en';
import { useI18n } from '../../i18n/provider';
import { useTRPC, type RouterOutputs } from '../../lib/trpc';
import './audit.css';

type Verification = RouterOutputs['audit']['verify'];
type Problem = Verification['problems'][number];

/** Verifies the chain and its checkpoints on demand (it reads every row), and offers the checkpoints for a copy kept elsewhere. */
export function IntegrityPanel() {
  const { t, locale } = useI18n();
  const toast = useToast();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  // Only when asked: it reads every row, and each verification is itself audited.
  const verification = useQuery({ ...trpc.audit.verify.queryOptions(), enabled: false, gcTime: 0 });
  const result = verification.data;
  const busy = verification.isFetching;

  const verify = async () => {
    const { error } = await verification.refetch();
    if (error) toast.error(error);
  };

  const download = async () => {
    try {
      const { content } = await queryClient.fetchQuery({ ...trpc.audit.exportAnchors.queryOptions(), staleTime: 0 });
      if (!content) return toast.error(new Error(t('audit.anchorsEmpty')));
      const link = document.createElement('a');
      link.href = URL.createObjectURL(new Blob([content], { type: 'application/x-ndjson' }));
      link.download = `enclave-audit-anchors-${new Date().toISOString().slice(0, 10)}.jsonl`;
      link.click();
      URL.revokeObjectURL(link.href);
    } catch (err) {
      toast.error(err);
    }
  };

  const problemText = (p: Problem) => {
    const text = t(`audit.problem.${p.kind}` as MessageKey, {
      row: p.rowId ?? '',
      at: formatDateTime(p.anchorAt, locale),
      expected: p.expectedRows ?? '',
      found: p.foundRows ?? '',
      newest: p.newestId ?? '',
      count: p.anchors ?? 1,
      line: p.line ?? '',
    });
    const several = p.kind !== 'anchor-tampered' && p.kind !== 'anchor-other-key' && (p.anchors ?? 1) > 1;
    return several ? `${text} ${t('audit.problem.more', { count: p.anchors! })}` : text;
  };

  return (
    <section className="card audit-integrity" data-testid="audit-integrity">
      <div className="audit-integrity-head">
        <h2>{t('audit.integrity')}</h2>
        <button type="button" className="button button-primary" onClick={() => void verify()} disabled={busy} data-testid="audit-verify">
          {busy ? t('audit.verifying') : t('audit.verify')}
        </button>
        <button type="button" className="button" onClick={() => void download()} data-testid="audit-download-anchors">
          {t('audit.downloadAnchors')}
        </button>
      </div>
      <p className="muted">{t('audit.integrityHint')}</p>
      {result?.ok && (
        <div className="audit-verdict audit-verdict-ok" data-testid="audit-verdict" data-ok="true">
          <strong>{t('audit.intact', { rows: result.rows, matched: result.anchorsMatched, total: result.anchorsTotal })}</strong>
          <span>{result.latestAnchorAt ? t('audit.latestAnchor', { at: formatDateTime(result.latestAnchorAt, locale) }) : t('audit.noAnchors')}</span>
          {result.archivedRows > 0 && <span data-testid="audit-archived">{t('audit.archived', { rows: result.archivedRows, row: result.archivedUpToId ?? '' })}</span>}
          {result.checkpointWritten && <span>{t('audit.checkpointWritten', { row: result.checkpointWritten.headId })}</span>}
          {result.checkpointRefused && <span className="form-error">{t('audit.checkpointRefused', { reason: result.checkpointRefused })}</span>}
          <span className="muted">{t('audit.anchorFile', { file: result.anchorFile })}</span>
        </div>
      )}
      {result && !result.ok && (
        <div className="audit-verdict audit-verdict-broken" role="alert" data-testid="audit-verdict" data-ok="false">
          <strong>{t('audit.broken')}</strong>
          <ul>
            {result.problems.map((p) => (
              <li key={p.kind} data-testid="audit-problem" data-kind={p.kind}>
                {problemText(p)}
              </li>
            ))}
          </ul>
          <span className="muted">{t('audit.anchorFile', { file: result.anchorFile })}</span>
        </div>
      )}
    </section>
  );
}
