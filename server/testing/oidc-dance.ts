/**
 * What a browser does during an OIDC sign-in, with fetch: redirects followed by hand, cookies kept per
 * origin and path, the provider's login form (oidc-provider's devInteractions) filled in and posted.
 * Stops at Enclave's callback answer, which is what the tests judge.
 */
export class CookieJar {
  private readonly cookies = new Map<string, { value: string; path: string }>();

  store(url: URL, res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const path = attrs.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
      const gone = attrs.some((a) => /^max-age=0$/i.test(a.trim())) || value === '';
      const key = `${url.origin} ${name} ${path}`;
      if (gone) this.cookies.delete(key);
      else this.cookies.set(key, { value, path });
    }
  }

  header(url: URL): string {
    return [...this.cookies.entries()]
      .filter(([key, c]) => key.startsWith(`${url.origin} `) && url.pathname.startsWith(c.path))
      .map(([key, c]) => `${key.split(' ')[1]}=${c.value}`)
      .join('; ');
  }

  /** A cookie's value for this origin (any path). */
  get(origin: string, name: string): string | undefined {
    return [...this.cookies.entries()].find(([key]) => key.startsWith(`${origin} ${name} `))?.[1].value;
  }

  set(origin: string, name: string, value: string, path = '/'): void {
    this.cookies.set(`${origin} ${name} ${path}`, { value, path });
  }
}

export interface DanceResult {
  /** Enclave's answer to the callback. */
  status: number;
  location: string;
  jar: CookieJar;
  /** Milliseconds from the start URL to Enclave's answer on the callback. */
  ms: number;
}

/**
 * Signs in from `startUrl` as `login` at the provider. `beforeCallback` may rewrite the callback URL
 * (a forged state); `jar` carries cookies from an earlier sign-in (the provider's session).
 */
export async function oidcDance(startUrl: string, login: string, opts: { jar?: CookieJar; beforeCallback?: (url: URL) => URL } = {}): Promise<DanceResult> {
  const jar = opts.jar ?? new CookieJar();
  const began = performance.now();
  const enclaveOrigin = new URL(startUrl).origin;
  let url = new URL(startUrl);
  let init: RequestInit = {};
  for (let hop = 0; hop < 20; hop++) {
    const isCallback = url.origin === enclaveOrigin && url.pathname.endsWith('/callback');
    if (isCallback && opts.beforeCallback) url = opts.beforeCallback(url);
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), cookie: jar.header(url) } });
    jar.store(url, res);
    init = {};
    if (isCallback || (url.origin === enclaveOrigin && res.status === 302 && !res.headers.get('location')!.startsWith('http'))) {
      await res.arrayBuffer();
      return { status: res.status, location: res.headers.get('location') ?? '', jar, ms: performance.now() - began };
    }
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location')!, url);
      await res.arrayBuffer();
      continue;
    }
    const html = await res.text();
    const form = /<form[^>]*action="([^"]+)"[^>]*method="post"/i.exec(html);
    if (res.status === 200 && form && html.includes('name="login"')) {
      url = new URL(form[1]!, url);
      init = {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ prompt: 'login', login, password: 'any password' }).toString(),
      };
      continue;
    }
    throw new Error(`unexpected answer ${res.status} from ${url.href}: ${html.slice(0, 500)}`);
  }
  throw new Error('more than 20 redirects');
}
