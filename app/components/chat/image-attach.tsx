'use client';

import { useCallback, useRef, useState } from 'react';
import { useI18n } from '../../i18n/provider';
import { useToast } from '../toast';

/**
 * Images on the message being written (issue 16, part 5): pasted, dropped or picked, shown as chips
 * until sent. A turn travels in one request of at most 1 MiB, so a picture is scaled down in the browser
 * (longest side 1536 px, JPEG) unless it is already small; the server checks every image again by its
 * bytes. Nothing is uploaded before Send.
 */
export const MAX_IMAGES = 4;
/** The server's allowance per message (server/chat/request.ts MAX_CHAT_IMAGE_BYTES), decoded bytes. */
const MAX_TOTAL_BYTES = 600 * 1024;
const KEEP_AS_IS_BYTES = 150 * 1024;
const MAX_SIDE = 1536;
const TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'];

/** Inline SVG (no emoji font needed): a picture. */
function ImageIcon() {
  return (
    <svg {...{ width: 16, height: 16, viewBox: '0 0 24 24', fill: 'none', stroke: 'currentColor', strokeWidth: 2, strokeLinecap: 'round', strokeLinejoin: 'round', 'aria-hidden': true } as const}>
      <rect x="3" y="4" width="18" height="16" rx="2" />
      <circle cx="9" cy="10" r="2" />
      <path d="m21 17-5-5-9 8" />
    </svg>
  );
}

export interface Attached {
  dataUrl: string;
  name: string;
}

const readAsDataUrl = (blob: Blob) =>
  new Promise<string>((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result as string);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });

/** Decoded size of a data: URL's payload. */
const bytesOf = (dataUrl: string) => Math.floor(((dataUrl.length - dataUrl.indexOf(',') - 1) * 3) / 4);

async function scaled(file: File, maxSide: number, quality: number): Promise<string> {
  const bitmap = await createImageBitmap(file);
  const factor = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(bitmap.width * factor));
  canvas.height = Math.max(1, Math.round(bitmap.height * factor));
  const context = canvas.getContext('2d')!;
  // JPEG has no transparency: what was transparent becomes white (the picture's own colour, not the theme's).
  context.fillStyle = 'white';
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return canvas.toDataURL('image/jpeg', quality);
}

/** The image as a data: URL small enough to send: as it is when small, else scaled down until it fits. */
async function prepare(file: File, room: number): Promise<string | null> {
  if (file.size <= Math.min(KEEP_AS_IS_BYTES, room)) return readAsDataUrl(file);
  for (const [side, quality] of [[MAX_SIDE, 0.85], [1024, 0.8], [768, 0.7]] as const) {
    const url = await scaled(file, side, quality);
    if (bytesOf(url) <= room) return url;
  }
  return null;
}

export function useImageAttachments() {
  const { t } = useI18n();
  const toast = useToast();
  const [images, setImages] = useState<Attached[]>([]);
  const current = useRef<Attached[]>([]);
  current.current = images;

  const add = useCallback(
    async (files: Iterable<File>) => {
      for (const file of files) {
        if (!TYPES.includes(file.type)) {
          toast.show(t('media.notImage', { name: file.name || file.type || '?' }), 'error');
          continue;
        }
        if (current.current.length >= MAX_IMAGES) {
          toast.show(t('media.tooMany', { max: MAX_IMAGES }), 'error');
          return;
        }
        const used = current.current.reduce((n, a) => n + bytesOf(a.dataUrl), 0);
        const url = await prepare(file, MAX_TOTAL_BYTES - used).catch(() => null);
        if (!url) {
          toast.show(t('media.tooLarge'), 'error');
          return;
        }
        current.current = [...current.current, { dataUrl: url, name: file.name }];
        setImages(current.current);
      }
    },
    [t, toast],
  );
  const remove = useCallback((index: number) => setImages((list) => list.filter((_, i) => i !== index)), []);
  const clear = useCallback(() => setImages([]), []);
  return { images, add, remove, clear, setImages };
}

/** The chips of the images waiting to be sent, each with a remove button. */
export function ImageChips({ images, onRemove }: { images: Attached[]; onRemove(index: number): void }) {
  const { t } = useI18n();
  if (images.length === 0) return null;
  return (
    <div className="image-chips" data-testid="image-chips" style={{ display: 'flex', gap: 8, flexWrap: 'wrap', padding: '4px 0' }}>
      {images.map((image, i) => (
        <span key={i} className="image-chip" data-testid="image-chip" style={{ position: 'relative', display: 'inline-block' }}>
          <img src={image.dataUrl} alt={t('media.image', { n: i + 1 })} style={{ width: 56, height: 56, objectFit: 'cover', borderRadius: 6, border: '1px solid var(--border)' }} />
          <button type="button" className="icon-button" aria-label={t('media.remove', { n: i + 1 })} onClick={() => onRemove(i)} data-testid="image-chip-remove" style={{ position: 'absolute', top: -6, right: -6 }}>
            ×
          </button>
        </span>
      ))}
    </div>
  );
}

/** The button that opens the file picker (images only, several at once). */
export function AttachButton({ onFiles, disabled }: { onFiles(files: File[]): void; disabled?: boolean }) {
  const { t } = useI18n();
  const input = useRef<HTMLInputElement>(null);
  return (
    <>
      <button type="button" className="icon-button" aria-label={t('media.attach')} title={t('media.attach')} disabled={disabled} onClick={() => input.current?.click()} data-testid="attach-image">
        <ImageIcon />
      </button>
      <input
        ref={input}
        type="file"
        accept={TYPES.join(',')}
        multiple
        hidden
        data-testid="attach-input"
        onChange={(e) => {
          onFiles([...(e.target.files ?? [])]);
          e.target.value = '';
        }}
      />
    </>
  );
}

/** A message's images in the thread. */
export function MessageImages({ images }: { images?: string[] }) {
  const { t } = useI18n();
  if (!images?.length) return null;
  return (
    <div className="message-images" data-testid="message-images" style={{ display: 'flex', gap: 8, flexWrap: 'wrap', marginBottom: 6 }}>
      {images.map((url, i) => (
        <a key={i} href={url} target="_blank" rel="noreferrer">
          <img src={url} alt={t('media.image', { n: i + 1 })} style={{ maxWidth: 240, maxHeight: 240, borderRadius: 6 }} data-testid="message-image" />
        </a>
      ))}
    </div>
  );
}
