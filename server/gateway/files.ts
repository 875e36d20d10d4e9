import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { apiFiles } from '../db/schema';
import { ImageError, inspectImageBytes, type ImageInfo } from '../core/images';
import { isUuid } from '../core/ids';
import { dataKeyForOpening, dataKeyForSealing, seal, unseal } from '../security/encryption';
import type { Caller } from './auth';
import { GatewayError } from './errors';
import type { ChatCompletionBody } from './validation';

/**
 * Images uploaded once and referred to in chat requests (issue 16, part 5): OpenAI's /v1/files for the
 * purpose 'vision'.
 *
 * - POST /v1/files: multipart/form-data with `file` and `purpose=vision` (OpenAI's shape), or the image's
 *   raw bytes with its media type as the content type (`?purpose=vision&filename=cat.png`, both optional).
 *   Checked like an inline image (core/images.ts: a PNG, JPEG, WebP or GIF by its magic bytes, within
 *   GATEWAY_MAX_IMAGE_BYTES) before anything is stored; the bytes and the name sealed under the owner's
 *   data key (api_files, migration 0036).
 * - GET /v1/files, GET /v1/files/:id, GET /v1/files/:id/content, DELETE /v1/files/:id: the caller's own files (another user's id is
 *   a 404, exactly like an unknown one).
 * - In a chat request, `{"type":"image_url","image_url":{"url":"enclave-file:<id>"}}` (or OpenAI's
 *   `{"type":"image_file","image_file":{"file_id":"<id>"}}`) is replaced by the image's data: URL before
 *   any check, so a referenced image meets exactly the inline image's rules: the vision flag, the image
 *   limits, quotas and classification. The engine only ever sees a data: URL; nothing is fetched.
 */
export const FILES_PATH = '/v1/files';
export const FILE_REFERENCE = 'enclave-file:';
const PURPOSES = ['vision'] as const;
const MAX_FILENAME = 255;
const EXTENSION: Record<ImageInfo['type'], string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp', 'image/gif': 'gif' };

export interface FileObject {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  status: 'processed';
  media_type: string;
  width: number | null;
  height: number | null;
}

function bad(param: string | null, message: string, code = 'invalid_file'): GatewayError {
  return new GatewayError(400, 'invalid_request_error', code, message, param);
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

function notFound(id: string, param: string | null): GatewayError {
  return new GatewayError(404, 'invalid_request_error', 'file_not_found', `No file with id '${id.slice(0, 64)}' uploaded by this account`, param);
}

/** What a /v1/files path names, and the methods it takes; null: not a files route. */
export interface FilesTarget {
  /** undefined: /v1/files itself. */
  id: string | undefined;
  /** /v1/files/:id/content: the image's bytes. */
  content: boolean;
  methods: readonly string[];
  pattern: string;
}

export function filesTarget(path: string): FilesTarget | null {
  if (path === FILES_PATH || path === `${FILES_PATH}/`) return { id: undefined, content: false, methods: ['GET', 'POST'], pattern: FILES_PATH };
  if (!path.startsWith(`${FILES_PATH}/`)) return null;
  const segments = path.slice(FILES_PATH.length + 1).split('/');
  const content = segments.length === 2 && segments[1] === 'content';
  if (segments.length > 2 || (segments.length === 2 && !content)) return null;
  let id = segments[0]!;
  try {
    id = decodeURIComponent(id);
  } catch {
    // kept as sent: not a uuid, so not found
  }
  return content ? { id, content, methods: ['GET'], pattern: `${FILES_PATH}/:id/content` } : { id, content, methods: ['GET', 'DELETE'], pattern: `${FILES_PATH}/:id` };
}

interface Upload {
  bytes: Buffer;
  declared: string | null;
  purpose: string | null;
  filename: string | null;
}

/** The uploaded image out of a multipart form or raw bytes; a 400 naming the field otherwise. */
async function readUpload(raw: Buffer, contentType: string | undefined, query: URLSearchParams): Promise<Upload> {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'multipart/form-data') {
    let form: FormData;
    try {
      form = await new Response(new Uint8Array(raw.buffer as ArrayBuffer, raw.byteOffset, raw.length), { headers: { 'content-type': contentType! } }).formData();
    } catch {
      throw bad(null, 'The request body is not a valid multipart form', 'invalid_body');
    }
    const file = form.get('file');
    if (!file || typeof file === 'string') throw bad('file', "The form has no 'file' field holding the image");
    const purpose = form.get('purpose');
    const fileType = file.type.split(';')[0]!.trim().toLowerCase();
    const declared = fileType && fileType !== 'application/octet-stream' ? fileType.replace('image/jpg', 'image/jpeg') : null;
    return { bytes: Buffer.from(await file.arrayBuffer()), declared, purpose: typeof purpose === 'string' ? purpose : null, filename: file.name || null };
  }
  if (type.startsWith('image/') || type === 'application/octet-stream')
    return { bytes: raw, declared: type.startsWith('image/') ? type.replace('image/jpg', 'image/jpeg') : null, purpose: query.get('purpose') ?? 'vision', filename: query.get('filename') };
  throw bad(null, "Send /v1/files as multipart/form-data with the fields 'file' and 'purpose' (vision), or the image's bytes with its type as the content type (image/png, ...)", 'invalid_body');
}

export interface FileStore {
  upload(caller: Caller, raw: Buffer, contentType: string | undefined, query: URLSearchParams): Promise<FileObject>;
  get(caller: Caller, id: string): Promise<FileObject>;
  /** The image's bytes and media type (GET /v1/files/:id/content). */
  content(caller: Caller, id: string): Promise<{ mediaType: string; bytes: Buffer }>;
  list(caller: Caller): Promise<FileObject[]>;
  remove(caller: Caller, id: string): Promise<{ id: string; object: 'file'; deleted: true }>;
  /** Replaces the body's file references with data: URLs (in place); null, synchronously, when it has none. */
  resolve(caller: Caller, body: ChatCompletionBody, maxRequestBytes: number): Promise<void> | null;
}

const METADATA = {
  id: apiFiles.id,
  purpose: apiFiles.purpose,
  mediaType: apiFiles.mediaType,
  bytes: apiFiles.bytes,
  width: apiFiles.width,
  height: apiFiles.height,
  filenameEnc: apiFiles.filenameEnc,
  dataKeyId: apiFiles.dataKeyId,
  createdAt: apiFiles.createdAt,
};
interface Reference {
  part: Record<string, unknown>;
  id: string;
  param: string;
  detail: unknown;
}
type Row = { [K in keyof typeof METADATA]: (typeof apiFiles.$inferSelect)[K] };

export function createFileStore(db: Db, masterKey: Buffer, limits: { maxImageBytes: number; maxStoredBytes: number }): FileStore {
  async function describe(row: Row): Promise<FileObject> {
    let filename = `image.${EXTENSION[row.mediaType]}`;
    if (row.filenameEnc) filename = unseal(await dataKeyForOpening(db, masterKey, row.dataKeyId), row.filenameEnc).toString('utf8');
    return {
      id: row.id,
      object: 'file',
      bytes: row.bytes,
      created_at: Math.floor(row.createdAt.getTime() / 1000),
      filename,
      purpose: row.purpose,
      status: 'processed',
      media_type: row.mediaType,
      width: row.width,
      height: row.height,
    };
  }

  async function own(caller: Caller, id: string): Promise<Row> {
    if (!isUuid(id)) throw notFound(id, null);
    const [row] = await db
      .select(METADATA)
      .from(apiFiles)
      .where(and(eq(apiFiles.id, id), eq(apiFiles.userId, caller.userId)));
    if (!row) throw notFound(id, null);
    return row;
  }

  return {
    async upload(caller, raw, contentType, query) {
      const upload = await readUpload(raw, contentType, query);
      if (upload.purpose === null) throw bad('purpose', "The form has no 'purpose' field: send purpose=vision");
      if (!(PURPOSES as readonly string[]).includes(upload.purpose))
        throw bad('purpose', `Files of purpose '${upload.purpose.slice(0, 64)}' are not accepted: Enclave stores images for chat requests only (purpose=vision)`);
      let info: ImageInfo;
      try {
        info = inspectImageBytes(upload.bytes, upload.declared, 'file', limits, null, 'The upload');
      } catch (e) {
        if (e instanceof ImageError) throw bad(e.param, e.message, e.code);
        throw e;
      }
      // Files never expire: what one person keeps is bounded instead, and the answer says how to make room.
      const [stored] = await db.select({ bytes: sql<number>`coalesce(sum(${apiFiles.bytes}), 0)::bigint` }).from(apiFiles).where(eq(apiFiles.userId, caller.userId));
      const held = Number(stored?.bytes ?? 0);
      if (held + info.bytes > limits.maxStoredBytes)
        throw new GatewayError(
          413,
          'invalid_request_error',
          'file_storage_full',
          `Your uploaded files hold ${mib(held)} MiB and this one ${mib(info.bytes)} MiB; together they may hold ${mib(limits.maxStoredBytes)} MiB (GATEWAY_MAX_STORED_FILE_BYTES). Delete files you no longer need (DELETE /v1/files/<id>) and upload again.`,
          'file',
        );
      const filename = (upload.filename ?? '').replace(/[\u0000-\u001f\u007f]/g, '').slice(0, MAX_FILENAME) || null;
      // Sealed before the insert: a failure here leaves no row.
      const { id: dataKeyId, key } = await dataKeyForSealing(db, masterKey, caller.userId);
      const [row] = await db
        .insert(apiFiles)
        .values({
          userId: caller.userId,
          apiKeyId: caller.keyId,
          purpose: 'vision',
          mediaType: info.type,
          bytes: info.bytes,
          width: info.width,
          height: info.height,
          filenameEnc: filename ? seal(key, Buffer.from(filename, 'utf8')) : null,
          contentEnc: seal(key, upload.bytes),
          dataKeyId,
        })
        .returning(METADATA);
      return describe(row!);
    },

    async get(caller, id) {
      return describe(await own(caller, id));
    },

    async content(caller, id) {
      if (!isUuid(id)) throw notFound(id, null);
      const [row] = await db
        .select({ mediaType: apiFiles.mediaType, contentEnc: apiFiles.contentEnc, dataKeyId: apiFiles.dataKeyId })
        .from(apiFiles)
        .where(and(eq(apiFiles.id, id), eq(apiFiles.userId, caller.userId)));
      if (!row) throw notFound(id, null);
      return { mediaType: row.mediaType, bytes: unseal(await dataKeyForOpening(db, masterKey, row.dataKeyId), row.contentEnc) };
    },

    async list(caller) {
      const rows = await db.select(METADATA).from(apiFiles).where(eq(apiFiles.userId, caller.userId)).orderBy(desc(apiFiles.createdAt)).limit(10_000);
      return Promise.all(rows.map(describe));
    },

    async remove(caller, id) {
      if (!isUuid(id)) throw notFound(id, null);
      const gone = await db
        .delete(apiFiles)
        .where(and(eq(apiFiles.id, id), eq(apiFiles.userId, caller.userId)))
        .returning({ id: apiFiles.id });
      if (gone.length === 0) throw notFound(id, null);
      return { id, object: 'file', deleted: true };
    },

    resolve(caller, body, maxRequestBytes) {
      const refs: Reference[] = [];
      body.messages.forEach((m, i) => {
        if (!Array.isArray(m.content)) return;
        (m.content as unknown[]).forEach((p, j) => {
          if (!p || typeof p !== 'object') return;
          const part = p as Record<string, unknown>;
          const param = `messages[${i}].content[${j}]`;
          if (part.type === 'image_url') {
            const holder = part.image_url as { url?: unknown; detail?: unknown } | undefined;
            const url = holder && typeof holder === 'object' ? holder.url : undefined;
            if (typeof url !== 'string' || !url.startsWith(FILE_REFERENCE)) return;
            refs.push({ part, id: url.slice(FILE_REFERENCE.length), param: `${param}.image_url.url`, detail: holder!.detail });
          } else if (part.type === 'image_file') {
            const holder = part.image_file as { file_id?: unknown; detail?: unknown } | undefined;
            const id = holder && typeof holder === 'object' ? holder.file_id : undefined;
            if (typeof id !== 'string') throw bad(`${param}.image_file.file_id`, `Invalid value for '${param}.image_file.file_id': expected the id of a file uploaded with purpose vision`);
            refs.push({ part, id, param: `${param}.image_file.file_id`, detail: holder!.detail });
          }
        });
      });
      if (refs.length === 0) return null;
      return open(caller, refs, maxRequestBytes);
    },
  };

  async function open(caller: Caller, list: Reference[], maxRequestBytes: number): Promise<void> {
    const ids = [...new Set(list.map((r) => r.id).filter(isUuid))];
    const rows = ids.length
      ? await db
          .select({ ...METADATA, contentEnc: apiFiles.contentEnc })
          .from(apiFiles)
          .where(and(inArray(apiFiles.id, ids), eq(apiFiles.userId, caller.userId)))
      : [];
    const byId = new Map(rows.map((r) => [r.id, r]));
    // Every reference known and the images within the request's allowance before anything is opened.
    let total = 0;
    for (const ref of list) {
      const row = byId.get(ref.id);
      if (!row) throw notFound(ref.id, ref.param);
      total += row.bytes;
      if (total > maxRequestBytes) throw bad(ref.param, `The images in this request are more than ${maxRequestBytes} bytes together`, 'image_too_large');
    }
    const urls = new Map<string, string>();
    for (const row of rows) {
      const bytes = unseal(await dataKeyForOpening(db, masterKey, row.dataKeyId), row.contentEnc);
      urls.set(row.id, `data:${row.mediaType};base64,${bytes.toString('base64')}`);
    }
    for (const ref of list) {
      const imageUrl: Record<string, unknown> = { url: urls.get(ref.id)! };
      if (typeof ref.detail === 'string') imageUrl.detail = ref.detail;
      for (const k of Object.keys(ref.part)) delete ref.part[k];
      ref.part.type = 'image_url';
      ref.part.image_url = imageUrl;
    }
  }
}
