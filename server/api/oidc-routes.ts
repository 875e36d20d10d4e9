import type { ServerResponse } from 'node:http';
import type { Env } from '../core/env';
import { clientAddress } from '../security/client-address';
import { sessionCookie } from '../security/cookies';
import { oidcSettings } from '../security/oidc/config';
import { callbackPath, FLOW_TTL_SECONDS, flowCookie, openFlow, safeReturnPath, sealFlow } from '../security/oidc/flow-cookie';
import { OidcRefused } from '../security/oidc/refusals';
import { finishOidcSignIn, startOidcSignIn, type OidcCall } from '../security/oidc/sign-in';
import { createOutboundPolicy, outboundConfig, type OutboundPolicy } from '../security/outbound/policy';
import { expectedOrigin } from '../security/site';
import type { RawRoute, RouteCall } from './route-table';

/**
 * OIDC sign-in: two browser navigations, so HTTP itself is the interface. Each answer is a redirect:
 * to the provider, back into Enclave, or to /login?error=<code> (never an error page or a 500).
 */
const policies = new WeakMap<Env, OutboundPolicy>();
function policyFor(env: Env): OutboundPolicy {
  let p = policies.get(env);
  if (!p) policies.set(env, (p = createOutboundPolicy(outboundConfig(env))));
  return p;
}

function callOf({ deps, req, params }: RouteCall): OidcCall {
  const providerId = params.id ?? '';
  const origin = expectedOrigin(deps.env, req) ?? 'http://localhost';
  return { settings: oidcSettings(deps.env), providerId, policy: policyFor(deps.env), redirectUri: origin + callbackPath(providerId), clientAddress: clientAddress(req) };
}

function redirect(res: ServerResponse, location: string, cookies: string[] = []): void {
  res.writeHead(302, { location, 'cache-control': 'no-store', ...(cookies.length ? { 'set-cookie': cookies } : {}) });
  res.end();
}

const refusedTo = (r: OidcRefused) => `/login?error=${r.refusal}`;

export const oidcStartRoute: RawRoute = {
  method: 'GET',
  path: '/api/auth/oidc/:id/start',
  async handle(call) {
    const started = await startOidcSignIn(callOf(call), safeReturnPath(call.url.searchParams.get('next')));
    if (started instanceof OidcRefused) return redirect(call.res, refusedTo(started));
    const value = sealFlow(call.deps.masterKey, started.flow);
    redirect(call.res, started.url.href, [flowCookie(started.flow.provider, value, { secure: call.deps.env.ENCLAVE_SECURE_COOKIES, maxAge: FLOW_TTL_SECONDS })]);
  },
};

export const oidcCallbackRoute: RawRoute = {
  method: 'GET',
  path: '/api/auth/oidc/:id/callback',
  async handle(call) {
    const { deps, req, res } = call;
    const c = callOf(call);
    const secure = deps.env.ENCLAVE_SECURE_COOKIES;
    // The flow is single-use whatever happens: a second visit of this URL finds nothing to finish.
    // (Only for an id that could be configured: anything else in a header would be refused by Node.)
    const clear = /^[a-z0-9-]{1,40}$/.test(c.providerId) ? [flowCookie(c.providerId, '', { secure, maxAge: 0 })] : [];
    const done = await finishOidcSignIn(c, {
      db: deps.db,
      flow: openFlow(deps.masterKey, req, c.providerId),
      query: call.url.searchParams,
      userAgent: req.headers['user-agent']?.slice(0, 400),
      sessionHours: deps.env.ENCLAVE_SESSION_HOURS,
    });
    if (done instanceof OidcRefused) return redirect(res, refusedTo(done), clear);
    redirect(res, done.returnTo, [...clear, sessionCookie(done.token, { secure, maxAge: deps.env.ENCLAVE_SESSION_HOURS * 3600 })]);
  },
};

export const oidcRoutes = [oidcStartRoute, oidcCallbackRoute];
