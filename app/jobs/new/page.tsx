'use client';

import Link from 'next/link';
import { useRouter, useSearchParams } from 'next/navigation';
import { Suspense, useEffect, useState } from 'react';
import { ReadOnlyNote } from '../../components/fleet/fleet-gate';
import { fleetApi } from '../../components/fleet/fleet-api';
import { canManageFleet } from '../../components/fleet/roles';
import type { ModelView } from '../../components/fleet/types';
import { FinetuneFormView } from '../../components/jobs/finetune-form';
import { jobsApi } from '../../components/jobs/jobs-api';
import { QuantizeFormView } from '../../components/jobs/quantize-form';
import type { DatasetOption } from '../../components/jobs/types';
import { useSession } from '../../components/session';
import { useToast } from '../../components/toast';
import { useI18n } from '../../i18n/provider';

export default function NewJobPage() {
  return (
    <Suspense fallback={<div className="page-loading" aria-busy="true" />}>
      <NewJob />
    </Suspense>
  );
}

function NewJob() {
  const { t } = useI18n();
  const toast = useToast();
  const { me } = useSession();
  const router = useRouter();
  const params = useSearchParams();
  const kind = params.get('kind') === 'quantize' ? 'quantize' : 'finetune';
  const [loaded, setLoaded] = useState<{ models: ModelView[]; datasets: DatasetOption[] } | null>(null);

  useEffect(() => {
    // Without datasets a quantization still works (bundled text); the fine-tune form says where to upload one.
    Promise.all([fleetApi.models(), jobsApi.datasets().catch(() => [] as DatasetOption[])])
      .then(([models, datasets]) => setLoaded({ models, datasets }))
      .catch((err) => toast.error(err));
  }, [toast]);

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
