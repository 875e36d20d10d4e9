/**
 * An upstream's base URL as stored and called: the API's root, without a trailing slash, /v1 or an
 * endpoint path, because the probe and the gateway append /v1/models and /v1/chat/completions (engines
 * are addressed by their root, as vLLM is). The form suggests `https://api.example.com/v1`; without this
 * it was called at /v1/v1/... and never became ready.
 */
const API_SUFFIX = /\/v1(?:\/(?:chat\/completions|completions|models))?$/;

/** The path part of an upstream's base: '' for the root, '/openai' for an API mounted under a prefix. */
export function upstreamBasePath(pathname: string): string {
  return pathname.replace(/\/+$/, '').replace(API_SUFFIX, '').replace(/\/+$/, '');
}

/** The stored form of an upstream URL (already checked: http(s), no credentials, no query or fragment). */
export function upstreamBaseUrl(text: string): string {
  const url = new URL(text);
  return `${url.protocol}//${url.host}${upstreamBasePath(url.pathname)}`;
}
