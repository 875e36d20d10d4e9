'use client';

/**
 * The dataset upload, the one call these pages make outside tRPC: the file is the request body
 * (POST /api/datasets, see server/api/dataset-upload-route.ts), streamed from disk by the browser.
 */
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
