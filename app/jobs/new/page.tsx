'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { useRouter, useSearchParams } from 'next/navigation';
import { Suspense } from 'react';
import { ReadOnlyNote } from '../../components/fleet/fleet-gate';
import { canManageFleet } from '../../components/fleet/roles';
import { FinetuneFormView } from '../../components/jobs/finetune-form';
import { QuantizeFormView } from '../../components/jobs/quantize-form';
import { useSession } from '../../components/session';
import { useErrorToast } from '../../components/toast';
import { useI18n } from '../../i18n/provider';
import { useTRPC } from '../../lib/trpc';

export default function NewJobPage() {
  return (
    <Suspense fallback={<div className="page-loading" aria-busy="true" />}>
      <NewJob />
    </Suspense>
  );
}

function NewJob() {
  const { t } = useI18n();
  const { me } = useSession();
  const router = useRouter();
  const params = useSearchParams();
  const kind = params.get('kind') === 'quantize' ? 'quantize' : 'finetune';
  const trpc = useTRPC();
  const models = useQuery(trpc.catalog.list.queryOptions());
  useErrorToast(models.error);
  // Without datasets a quantization still works (bundled text); the fine-tune form says where to upload one.
  const datasets = useQuery(trpc.datasets.list.queryOptions());
  const loaded = models.data && (datasets.data || datasets.error) ? { models: models.data, datasets: datasets.data ?? [] } : null;

  const versions = (loaded?.models ?? []).flatMap((m) =>
    m.versions.map((v) => ({
      id: v.id,
      label: `${m.name} · ${v.version} (${v.format}${v.quantization ? `, ${v.quantization}` : ''})`,
      format: v.format,
      sizeBytes: v.sizeBytes,
    })),
  );

  return (
    <div className="manage-page fleet-page">
      <div className="page-head">
        <h1>{t('jobs.form.title')}</h1>
        <div className="kind-tabs" role="group">
          {(['finetune', 'quantize'] as const).map((k) => (
            <button key={k} type="button" aria-pressed={kind === k} onClick={() => router.replace(`/jobs/new?kind=${k}`)} data-testid={`kind-${k}`}>
              {k === 'finetune' ? t('jobs.newFinetune') : t('jobs.newQuantize')}
            </button>
          ))}
        </div>
        <span className="spacer" />
        <Link href="/jobs">← {t('jobs.backToList')}</Link>
      </div>
      {!canManageFleet(me.role) ? (
        <ReadOnlyNote />
      ) : !loaded ? (
        <p className="muted">{t('common.loading')}</p>
      ) : kind === 'finetune' ? (
        // A LoRA trains on a Hugging Face checkpoint; GGUF files and adapters cannot be the base.
        <FinetuneFormView versions={versions.filter((v) => v.format === 'hf')} datasets={loaded.datasets} />
      ) : (
        <QuantizeFormView versions={versions.filter((v) => v.format === 'gguf' || v.format === 'hf')} datasets={loaded.datasets} initialSource={params.get('source')} />
      )}
    </div>
  );
}
