/**
 * An image sent as a base64 data: URL, checked by its bytes: shared by the gateway (OpenAI image_url
 * parts) and the chat (images attached to a message), here below both. The gateway turns an ImageError
 * into its 400; the chat into its BAD_REQUEST.
 */
export class ImageError extends Error {
  constructor(
    readonly param: string,
    message: string,
    readonly code = 'invalid_image',
  ) {
    super(message);
  }
}

export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'] as const;
export type ImageType = (typeof IMAGE_TYPES)[number];

export interface ImageLimits {
  /** Bytes of one decoded image. */
  maxImageBytes: number;
  /** Bytes of every decoded image in one request together. */
  maxRequestBytes: number;
}

export interface ImageInfo {
  type: ImageType;
  bytes: number;
  width: number | null;
  height: number | null;
  /** 'low' asks for the single-tile estimate. */
  detail: string | null;
}

/** The decoded image's type by its first bytes; null: none Enclave accepts. */
export function sniffImage(b: Buffer): ImageType | null {
  if (b.length >= 8 && b.readUInt32BE(0) === 0x89504e47 && b.readUInt32BE(4) === 0x0d0a1a0a) return 'image/png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b.length >= 6 && (b.toString('latin1', 0, 6) === 'GIF87a' || b.toString('latin1', 0, 6) === 'GIF89a')) return 'image/gif';
  if (b.length >= 12 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') return 'image/webp';
  return null;
}

/** Width and height from the image's header (no decoding); null when the header does not say. */
export function imageSize(type: ImageType, b: Buffer): { width: number; height: number } | null {
  try {
    if (type === 'image/png') return b.length >= 24 ? { width: b.readUInt32BE(16), height: b.readUInt32BE(20) } : null;
    if (type === 'image/gif') return b.length >= 10 ? { width: b.readUInt16LE(6), height: b.readUInt16LE(8) } : null;
    if (type === 'image/webp') {
      const chunk = b.toString('latin1', 12, 16);
      if (chunk === 'VP8 ' && b.length >= 30) return { width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
      if (chunk === 'VP8L' && b.length >= 25) {
        const bits = b.readUInt32LE(21);
        return { width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
      }
      if (chunk === 'VP8X' && b.length >= 30) return { width: b.readUIntLE(24, 3) + 1, height: b.readUIntLE(27, 3) + 1 };
      return null;
    }
    // JPEG: walk the segments to the first start-of-frame marker.
    let i = 2;
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) return null;
      const marker = b[i + 1]!;
      if (marker === 0xff) {
        i++;
        continue;
      }
      const len = b.readUInt16BE(i + 2);
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)
        return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
      i += 2 + len;
    }
    return null;
  } catch {
    return null;
  }
}

/**
 * Prompt tokens an image is counted as, for quotas: OpenAI's published rule for its vision models, which
 * sizes by pixel area. 'low' detail: 85. Otherwise the image is scaled to fit 2048×2048, then its short
 * side to 768, and costs 85 + 170 per 512-pixel tile. An image whose header gives no size counts as a
 * 1024×1024 one (765). The engine's own count (vLLM includes image tokens in prompt_tokens) is charged
 * when it is higher.
 */
export function imageTokens(width: number | null, height: number | null, detail: string | null): number {
  if (detail === 'low') return 85;
  let w = width && width > 0 ? width : 1024;
  let h = height && height > 0 ? height : 1024;
  const fit = Math.min(1, 2048 / Math.max(w, h));
  w *= fit;
  h *= fit;
  const shrink = Math.min(1, 768 / Math.min(w, h));
  w *= shrink;
  h *= shrink;
  return 85 + 170 * Math.ceil(w / 512) * Math.ceil(h / 512);
}

const DATA_URL = /^data:([a-z0-9.+-]+\/[a-z0-9.+-]+)((?:;[a-z0-9-]+=[^;,]*)*);base64,/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** One data: URL image, checked (type by magic bytes, size) and measured; a 400 naming `param` otherwise. */
export function inspectDataUrl(url: string, param: string, limits: Pick<ImageLimits, 'maxImageBytes'>, detail: string | null = null): ImageInfo {
  const head = DATA_URL.exec(url);
  if (!head) throw new ImageError(param, `Invalid value for '${param}': expected a base64 data: URL (data:image/png;base64,...)`, 'image_url_not_allowed');
  const declared = head[1]!.toLowerCase().replace('image/jpg', 'image/jpeg');
  if (!(IMAGE_TYPES as readonly string[]).includes(declared))
    throw new ImageError(param, `Images of type ${declared} are not accepted; send PNG, JPEG, WebP or GIF`, 'unsupported_image_type');
  const data = url.slice(head[0].length);
  // Size before decoding: a huge string is refused without allocating its bytes.
  const approx = Math.floor((data.length * 3) / 4);
  if (approx > limits.maxImageBytes + 2)
    throw new ImageError(param, `The image is about ${approx} bytes; at most ${limits.maxImageBytes} bytes per image`, 'image_too_large');
  if (!BASE64.test(data)) throw new ImageError(param, 'The image data is not valid base64');
  return inspectImageBytes(Buffer.from(data, 'base64'), declared, param, limits, detail, 'The data: URL');
}

/**
 * An image's bytes (decoded from a data: URL, or uploaded as a file), checked: within the per-image limit,
 * a PNG, JPEG, WebP or GIF by its magic bytes, and the type the sender declared (null: none) matching them.
 */
export function inspectImageBytes(
  bytes: Buffer,
  declared: string | null,
  param: string,
  limits: Pick<ImageLimits, 'maxImageBytes'>,
  detail: string | null = null,
  declaredBy = 'The request',
): ImageInfo {
  if (bytes.length > limits.maxImageBytes)
    throw new ImageError(param, `The image is ${bytes.length} bytes; at most ${limits.maxImageBytes} bytes per image`, 'image_too_large');
  const actual = sniffImage(bytes);
  if (!actual) throw new ImageError(param, 'The image data is not a PNG, JPEG, WebP or GIF image', 'unsupported_image_type');
  if (declared && actual !== declared) throw new ImageError(param, `${declaredBy} says ${declared} but the bytes are ${actual}`, 'unsupported_image_type');
  const size = imageSize(actual, bytes);
  return { type: actual, bytes: bytes.length, width: size?.width ?? null, height: size?.height ?? null, detail };
}


/**
 * Prompt tokens an image given as a data: URL is counted as (imageTokens, from its header's pixel size):
 * the gateway's quota estimate, used as well wherever a prompt's size is estimated before it is sent (the
 * chat's context fitting, the gateway's opt-in trim). An image that cannot be read counts as a 1024×1024 one.
 */
export function dataUrlImageTokens(url: string, detail: string | null = null): number {
  try {
    const info = inspectDataUrl(url, 'image', { maxImageBytes: Number.MAX_SAFE_INTEGER }, detail);
    return imageTokens(info.width, info.height, detail);
  } catch {
    return imageTokens(null, null, detail);
  }
}
