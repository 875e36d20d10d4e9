'use client';

import { useMutation, type UseMutationOptions } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { useI18n } from '../../i18n/provider';
import { useToast } from '../toast';
import { submitErrors } from './form-field';
import type { FieldErrors } from './job-form';

/**
 * The submit both new-job forms share. Submitting marks the form submitted (every field now shows its
 * error); a complete spec is sent, then a toast and the new job's page; a refusal lands on the fields
 * it names (`fields`), the rest under ''. Typing in a field clears its server error (`clearError`).
 * `options`: the create mutation's, e.g. `trpc.jobs.createFinetune.mutationOptions()`.
 */
export function useJobSubmit<TData extends { id: string }, TError, TVariables, TContext>(options: UseMutationOptions<TData, TError, TVariables, TContext>, fields: readonly string[]) {
  const { t } = useI18n();
  const toast = useToast();
  const router = useRouter();
  const [submitted, setSubmitted] = useState(false);
  const [serverErrors, setServerErrors] = useState<FieldErrors>({});
  const create = useMutation(options);

  async function submit(event: FormEvent, spec: TVariables | null) {
    event.preventDefault();
    setSubmitted(true);
    if (!spec) return;
    try {
      const created = await create.mutateAsync(spec);
      toast.show(t('jobs.form.created'));
      router.push(`/jobs/${created.id}`);
    } catch (err) {
      setServerErrors(submitErrors(err, fields, t));
    }
  }

  return {
    submit,
    submitted,
    serverErrors,
    clearError: (field: string) => setServerErrors(({ [field]: _gone, ...rest }) => rest),
    clearErrors: () => setServerErrors({}),
    // Still busy once created: the page is on its way to the new job.
    busy: create.isPending || create.isSuccess,
  };
}
