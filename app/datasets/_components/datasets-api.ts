'use client';

import { trpc, type RouterOutputs } from '../../lib/trpc';

export type DatasetSummary = RouterOutputs['datasets']['list'][number];
export type PreviewRow = RouterOutputs['datasets']['preview']['rows'][number];

/** What the upload stored in the row's stats (JSON there, so typed here once). */
export type DatasetStats = {
  rows: number;
  messages: number;
  chars: number;
  tokens?: { total: number; mean: number; p50: number; p95: number; max: number };
  tokenHistogram?: { le: number; count: number }[];
  tokenizer?: { kind: 'model'; model: string; version: string } | { kind: 'estimate'; reason: string; versionId?: string };
};
export type DatasetSplit = { seed: number; heldOutFraction: number; trainRows: number; heldOutRows: number };

export const statsOf = (d: { stats: unknown }) => d.stats as DatasetStats;
export const splitOf = (d: { split: unknown }) => d.split as DatasetSplit;

export const datasetsApi = {
  list: () => trpc.datasets.list.query(),
  get: (id: string) => trpc.datasets.get.query({ id }),
  preview: (id: string, limit = 10) => trpc.datasets.preview.query({ id, limit }),
  remove: (id: string) => trpc.datasets.delete.mutate({ id }),
};

export type UploadParams = { name: string; format: string; heldOut: string; seed: string; tokenizerVersionId: string };
export type LineError = { line: number; reason: string };
export type UploadOutcome =
  | { ok: true; dataset: { id: string; name: string; rows: number } }
  | { ok: false; message: string; lines: LineError[]; errorCount: number };

/**
 * Sends the file as the request body with XMLHttpRequest, which (unlike fetch) reports upload progress.
 * The body is the File itself: the browser streams it from disk, never reading it into memory.
 */
export function uploadDataset(file: File, params: UploadParams, onProgress: (sent: number, total: number) => void): { done: Promise<UploadOutcome>; abort(): void } {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== ''));
  const xhr = new XMLHttpRequest();
  const done = new Promise<UploadOutcome>((resolve, reject) => {
    xhr.open('POST', `/api/datasets?${query}`);
    xhr.setRequestHeader('content-type', 'application/x-ndjson');
    xhr.responseType = 'json';
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => {
      const body = (xhr.response ?? {}) as { dataset?: { id: string; name: string; rows: number }; error?: { message?: string }; lines?: LineError[]; errorCount?: number };
      if (xhr.status === 201 && body.dataset) resolve({ ok: true, dataset: body.dataset });
      else resolve({ ok: false, message: body.error?.message ?? `HTTP ${xhr.status}`, lines: body.lines ?? [], errorCount: body.errorCount ?? body.lines?.length ?? 0 });
    };
    xhr.onerror = () => reject(new TypeError('network error'));
    xhr.onabort = () => reject(new DOMException('aborted', 'AbortError'));
    xhr.send(file);
  });
  return { done, abort: () => xhr.abort() };
}
