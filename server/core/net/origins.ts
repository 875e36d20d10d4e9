/** Browser origins (ENCLAVE_CORS_ORIGINS): parsed here so the settings check can name a bad one. */
export type CorsOrigins = ReadonlySet<string>;

/** "https://a.example, https://b.example:8443" → the set of origins (each must be scheme://host[:port]). */
export function parseCorsOrigins(text: string | undefined): CorsOrigins {
  const out = new Set<string>();
  for (const part of (text ?? '').split(',').map((s) => s.trim()).filter(Boolean)) out.add(normaliseOrigin(part));
  return out;
}

/** An origin as browsers send it; a bad entry is a configuration error naming it. */
export function normaliseOrigin(text: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new Error(`'${text}' is not an origin (scheme://host[:port])`);
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.pathname !== '/' || u.search || u.hash || u.username)
    throw new Error(`'${text}' is not an origin (scheme://host[:port], nothing after it)`);
  return u.origin;
}
