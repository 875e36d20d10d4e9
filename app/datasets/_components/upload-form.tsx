'use client';

import Link from 'next/link';
import { useRef, useState, type FormEvent } from 'react';
import { ProgressBar } from '../../components/charts/progress-bar';
import { formatBytes } from '../../components/fleet/format';
import type { ModelView } from '../../components/fleet/views';
import { useI18n } from '../../i18n/provider';
import { readableError } from '../../lib/errors';
import { uploadDataset, type UploadOutcome } from './upload-request';

const FORMATS = ['auto', 'openai', 'alpaca', 'sharegpt'] as const;

type State =
  | { kind: 'idle' }
  | { kind: 'sending'; sent: number; total: number; name: string }
  | { kind: 'done'; outcome: UploadOutcome }
  | { kind: 'failed'; message: string };

/** The upload card: a file and its options, a real upload progress bar, then the new dataset or its bad lines. */
export function UploadForm({ models, onUploaded }: { models: ModelView[]; onUploaded(): void }) {
  const { t } = useI18n();
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState('');
  const [format, setFormat] = useState<(typeof FORMATS)[number]>('auto');
  const [heldOut, setHeldOut] = useState('0.1');
  const [seed, setSeed] = useState('');
  const [tokenizerVersionId, setTokenizer] = useState('');
  const [state, setState] = useState<State>({ kind: 'idle' });
  const abortRef = useRef<() => void>(undefined);
  const ggufVersions = models.flatMap((m) => m.versions.filter((v) => v.format === 'gguf').map((v) => ({ id: v.id, label: `${m.name} · ${v.version}` })));

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!file) return;
    const datasetName = name.trim() || file.name.replace(/\.jsonl?$/i, '');
    setState({ kind: 'sending', sent: 0, total: file.size, name: datasetName });
    const upload = uploadDataset(file, { name: datasetName, format, heldOut, seed: seed.trim(), tokenizerVersionId }, (sent, total) =>
      setState({ kind: 'sending', sent, total, name: datasetName }),
    );
    abortRef.current = upload.abort;
    try {
      const outcome = await upload.done;
      setState({ kind: 'done', outcome });
      if (outcome.ok) onUploaded();
    } catch (err) {
      setState({ kind: 'failed', message: err instanceof DOMException && err.name === 'AbortError' ? t('datasets.cancelled') : readableError(err, t) });
    } finally {
      abortRef.current = undefined;
    }
  }

  const sending = state.kind === 'sending';
  return (
    <section className="card upload-card" data-testid="dataset-upload">
      <h2>{t('datasets.upload')}</h2>
      <p className="muted upload-hint">{t('datasets.formatsHint')}</p>
      <form className="inline-form" onSubmit={submit}>
        <label className="field" style={{ flexBasis: '100%' }}>
          <span>{t('datasets.file')}</span>
          <input
            type="file"
            accept=".jsonl,.json,.ndjson,application/x-ndjson"
            required
            disabled={sending}
            onChange={(e) => setFile(e.target.files?.[0] ?? null)}
            data-testid="dataset-file"
          />
        </label>
        <label className="field">
          <span>{t('datasets.name')}</span>
          <input type="text" value={name} maxLength={200} placeholder={file?.name.replace(/\.jsonl?$/i, '') ?? ''} onChange={(e) => setName(e.target.value)} disabled={sending} data-testid="dataset-name" />
        </label>
        <label className="field field-narrow">
          <span>{t('datasets.format')}</span>
          <select value={format} onChange={(e) => setFormat(e.target.value as typeof format)} disabled={sending} data-testid="dataset-format">
            {FORMATS.map((f) => (
              <option key={f} value={f}>
                {f === 'auto' ? t('datasets.formatAuto') : f}
              </option>
            ))}
          </select>
        </label>
        <label className="field field-narrow">
          <span>{t('datasets.heldOut')}</span>
          <input type="number" min={0.01} max={0.5} step={0.01} value={heldOut} onChange={(e) => setHeldOut(e.target.value)} disabled={sending} data-testid="dataset-heldout" />
        </label>
        <label className="field field-narrow">
          <span>{t('datasets.seed')}</span>
          <input type="number" min={0} max={4294967295} step={1} value={seed} placeholder={t('datasets.seedHint')} onChange={(e) => setSeed(e.target.value)} disabled={sending} />
        </label>
        <label className="field">
          <span>{t('datasets.tokenizer')}</span>
          <select value={tokenizerVersionId} onChange={(e) => setTokenizer(e.target.value)} disabled={sending} data-testid="dataset-tokenizer">
            <option value="">{t('datasets.tokenizerNone')}</option>
            {ggufVersions.map((v) => (
              <option key={v.id} value={v.id}>
                {v.label}
              </option>
            ))}
          </select>
        </label>
        {sending ? (
          <button type="button" className="button" onClick={() => abortRef.current?.()}>
            {t('datasets.cancel')}
          </button>
        ) : (
          <button type="submit" className="button button-primary" disabled={!file} data-testid="dataset-submit">
            {t('datasets.uploadButton')}
          </button>
        )}
      </form>
      {state.kind === 'sending' && (
        <div className="upload-status">
          <ProgressBar
            value={state.total > 0 ? state.sent / state.total : 0}
            label={t('datasets.uploading', { name: state.name })}
            detail={`${formatBytes(state.sent)} / ${formatBytes(state.total)} · ${Math.floor((state.total > 0 ? state.sent / state.total : 0) * 100)}%`}
            testId="dataset-progress"
          />
          {state.sent >= state.total && <p className="muted">{t('datasets.checking')}</p>}
        </div>
      )}
      {state.kind === 'failed' && <p className="form-error upload-status">{state.message}</p>}
      {state.kind === 'done' && state.outcome.ok && (
        <p className="upload-status upload-ok" data-testid="dataset-uploaded">
          {t('datasets.uploaded', { name: state.outcome.dataset.name, rows: state.outcome.dataset.rows })}{' '}
          <Link href={`/datasets/${state.outcome.dataset.id}`} className="chip chip-accent" data-testid="dataset-uploaded-link">
            {t('datasets.open')} →
          </Link>
        </p>
      )}
      {state.kind === 'done' && !state.outcome.ok && <UploadErrors outcome={state.outcome} />}
    </section>
  );
}

function UploadErrors({ outcome }: { outcome: Extract<UploadOutcome, { ok: false }> }) {
  const { t } = useI18n();
  const more = outcome.errorCount - outcome.lines.length;
  return (
    <div className="upload-status upload-errors" data-testid="dataset-errors">
      <p className="form-error">
        <strong>{t('datasets.rejected')}</strong> {outcome.lines.length > 0 ? t('datasets.badLines', { count: outcome.errorCount }) : outcome.message}
      </p>
      {outcome.lines.length > 0 && (
        <ul className="line-errors">
          {outcome.lines.map((l) => (
            <li key={l.line} data-testid="dataset-error-line" data-line={l.line}>
              <span className="chip">{t('datasets.line', { line: l.line })}</span> {l.reason}
            </li>
          ))}
        </ul>
      )}
      {more > 0 && (
        <p className="muted" data-testid="dataset-errors-more">
          {t('datasets.moreErrors', { count: more })}
        </p>
      )}
    </div>
  );
}
