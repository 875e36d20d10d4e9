'use client';

import Link from 'next/link';
import { useI18n } from '../../i18n/provider';

/**
 * What a fine-tune needs, said where it is asked for: a base model in Hugging Face format (why the
 * list can be empty) and a GPU host that joined the fleet with the Python trainer. Shown by the
 * fine-tune form and by a job that is still waiting for a place to run.
 */
export function GpuHostNeeds({ open = false }: { open?: boolean }) {
  const { t } = useI18n();
  return (
    <details className="job-help" open={open} data-testid="gpu-host-needs">
      <summary>{t('polish.jobs.hostTitle')}</summary>
      <ol>
        <li>
          {t('polish.jobs.hostJoin')}
          <pre>
            <code>{'enclave nodes join-token\nenclave agent --join https://ENCLAVE-ADDRESS --token TOKEN'}</code>
          </pre>
        </li>
        <li>
          {t('polish.jobs.hostPython')}
          <pre>
            <code>{'python3 -m pip install torch transformers peft trl datasets\nENCLAVE_TRAINER_PYTHON=/path/to/python3\npython3 trainers/lora_sft.py --self-test'}</code>
          </pre>
        </li>
        <li>{t('polish.jobs.hostGpu')}</li>
      </ol>
    </details>
  );
}

/** Why the base list is empty: only Hugging Face checkpoints can be trained (GGUF is for serving). */
export function NoBaseModel() {
  const { t } = useI18n();
  return (
    <p className="job-waiting" data-testid="no-base-model">
      {t('polish.jobs.noBase')} <Link href="/models">{t('polish.jobs.toModels')}</Link>
    </p>
  );
}

/** A job not yet running: why (the planner's reason, when it gave one), and that it starts by itself. */
export function WaitingNote({ status, reason }: { status: string; reason: string | null }) {
  const { t } = useI18n();
  if (status !== 'queued' && status !== 'waiting') return null;
  return (
    <div className="job-waiting" data-testid="job-waiting">
      <p>{status === 'waiting' && reason ? t('jobs.waitingFor', { reason }) : t('polish.jobs.queued')}</p>
      <p>
        {t('polish.jobs.waitExplain')} <Link href="/gpus">{t('polish.jobs.toGpus')}</Link>
      </p>
      <GpuHostNeeds />
    </div>
  );
}
