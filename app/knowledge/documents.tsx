'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useErrorToast, useToast } from '../components/toast';
import { useI18n } from '../i18n/provider';
import { useTRPC } from '../lib/trpc';

const BUSY = new Set(['queued', 'parsing', 'embedding']);

/** One base's documents: upload (the raw file to POST /api/knowledge/:id/documents), status with a progress bar while it is read and embedded, delete. */
export function KnowledgeDocuments({ kbId, canEdit, onChange }: { kbId: string; canEdit: boolean; onChange(): void }) {
  const { t } = useI18n();
  const toast = useToast();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  // Polled while any document is still being processed: the row is the truth, the worker writes it.
  const docs = useQuery({
    ...trpc.knowledge.documents.queryOptions({ kbId }),
    refetchInterval: (q) => (q.state.data?.some((d) => BUSY.has(d.status)) ? 1000 : false),
  });
  useErrorToast(docs.error);
  const [uploading, setUploading] = useState(false);
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: trpc.knowledge.documents.queryKey({ kbId }) });
    onChange();
  };
  const remove = useMutation(trpc.knowledge.deleteDocument.mutationOptions({ onError: (e) => toast.error(e), onSettled: refresh }));

  async function upload(file: File) {
    setUploading(true);
    try {
      const res = await fetch(`/api/knowledge/${encodeURIComponent(kbId)}/documents?name=${encodeURIComponent(file.name)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: file,
      });
      if (!res.ok) {
        const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
        toast.error(new Error(body?.error?.message ?? `Upload failed (${res.status})`));
        return;
      }
      toast.show(t('knowledge.uploaded'));
      refresh();
    } finally {
      setUploading(false);
    }
  }

  return (
    <div className="knowledge-documents" style={{ margin: '8px 0 16px 16px' }}>
      {canEdit && (
        <label className="muted" style={{ display: 'block', marginBottom: 8 }}>
          {t('knowledge.upload')}{' '}
          <input
            type="file"
            accept=".pdf,.docx,.md,.markdown,.html,.htm,.txt"
            disabled={uploading}
            data-testid="knowledge-upload"
            onChange={(e) => {
              const file = e.target.files?.[0];
              e.target.value = '';
              if (file) void upload(file);
            }}
          />
        </label>
      )}
      {docs.data?.length === 0 && <p className="muted">{t('knowledge.noDocuments')}</p>}
      <table className="data-table" data-testid="knowledge-documents">
        <tbody>
          {docs.data?.map((d) => (
            <tr key={d.id} data-testid="knowledge-document" data-status={d.status}>
              <td>{d.name}</td>
              <td style={{ minWidth: 180 }}>
                <span data-testid="knowledge-document-status">{t(`knowledge.status.${d.status}` as 'knowledge.status.ready')}</span>
                {BUSY.has(d.status) && <progress max={1} value={d.progress} style={{ marginLeft: 8 }} aria-label={t('knowledge.status')} />}
                {d.error && <div className="error-text">{d.error}</div>}
              </td>
              <td className="muted">
                {d.chunkCount} {t('knowledge.chunks').toLowerCase()}
              </td>
              <td>
                {canEdit && (
                  <button type="button" className="text-button danger" onClick={() => remove.mutate({ id: d.id })}>
                    {t('knowledge.delete')}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
