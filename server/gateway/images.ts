import { ImageError, inspectDataUrl as inspectImageDataUrl, imageTokens, type ImageInfo, type ImageLimits } from '../core/images';
import { GatewayError } from './errors';
import type { ChatCompletionBody } from './validation';

/**
 * Images in chat requests (issue 16, part 5): OpenAI's `image_url` content parts carrying a `data:` URL.
 * Enclave never fetches anything from the internet, and an engine given an http(s) URL would (vLLM
 * downloads it), so any other URL is refused here, as are the URL-carrying part types Enclave does not
 * screen (video, audio by URL). Each image's bytes are checked: a PNG, JPEG, WebP or GIF by its magic
 * bytes (the declared type must match), within the per-image and per-request limits, and its pixel size
 * read from the header for the token estimate. The image bytes are never logged or kept by the gateway.
 */
export { IMAGE_TYPES, imageSize, imageTokens, sniffImage, type ImageInfo, type ImageLimits, type ImageType } from '../core/images';

export interface ImageSummary {
  images: ImageInfo[];
  /** Characters of the request that are image data (base64): they do not count against the text body limit. */
  dataChars: number;
  /** Prompt tokens the images are estimated to cost (imageTokens). */
  tokens: number;
}

/** URL-carrying part types an engine would fetch itself: never forwarded. */
const FETCHED_PARTS = new Set(['video_url', 'audio_url']);

function bad(param: string, message: string, code = 'invalid_image'): GatewayError {
  return new GatewayError(400, 'invalid_request_error', code, message, param);
}

/** One data: URL image, checked and measured (core/images.ts); a 400 naming `param` otherwise. */
export function inspectDataUrl(url: string, param: string, limits: Pick<ImageLimits, 'maxImageBytes'>, detail: string | null = null): ImageInfo {
  try {
    return inspectImageDataUrl(url, param, limits, detail);
  } catch (e) {
    if (e instanceof ImageError) throw bad(e.param, e.message, e.code);
    throw e;
  }
}

/** Every image part of a chat body, checked; null when it has none (the common case: no allocation). */
export function inspectImages(body: ChatCompletionBody, limits: ImageLimits): ImageSummary | null {
  let summary: ImageSummary | null = null;
  let total = 0;
  body.messages.forEach((m, i) => {
    if (!Array.isArray(m.content)) return;
    (m.content as Record<string, unknown>[]).forEach((part, j) => {
      const param = `messages[${i}].content[${j}]`;
      if (FETCHED_PARTS.has(part.type as string))
        throw bad(`${param}.type`, `Content parts of type '${String(part.type)}' are not accepted: Enclave sends images only, as data: URLs`, 'unsupported_content');
      if (part.type !== 'image_url') return;
      const holder = part.image_url as { url?: unknown; detail?: unknown } | undefined;
      const url = holder && typeof holder === 'object' ? holder.url : undefined;
      if (typeof url !== 'string') throw bad(`${param}.image_url.url`, `Invalid value for '${param}.image_url.url': expected a data: URL`);
      if (/^https?:/i.test(url))
        throw bad(
          `${param}.image_url.url`,
          `Image URLs are not fetched: Enclave never downloads from the internet. Send the image inline as a data: URL (data:image/png;base64,...)`,
          'image_url_not_allowed',
        );
      const info = inspectDataUrl(url, `${param}.image_url.url`, limits, typeof holder!.detail === 'string' ? holder!.detail : null);
      total += info.bytes;
      if (total > limits.maxRequestBytes)
        throw bad(`${param}.image_url.url`, `The images in this request are more than ${limits.maxRequestBytes} bytes together`, 'image_too_large');
      const detail = info.detail;
      summary ??= { images: [], dataChars: 0, tokens: 0 };
      summary.images.push(info);
      summary.dataChars += url.length;
      summary.tokens += imageTokens(info.width, info.height, detail);
    });
  });
  return summary;
}

/** The 400 for images sent to a deployment that does not declare vision: names it and what to do. */
export function visionRefusal(deployment: string): GatewayError {
  return new GatewayError(
    400,
    'invalid_request_error',
    'images_not_supported',
    `The deployment '${deployment}' does not take images (it is not marked as a vision model). Send text only, or choose a deployment that accepts images; an admin can mark a multimodal deployment as vision-capable in its gateway settings.`,
    'messages',
  );
}
