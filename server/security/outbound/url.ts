import { z } from 'zod';
import { outboundPolicy, type OutboundPolicy } from './policy';

export interface UrlRules {
  /** user:password@ in the URL: fine for a sealed webhook URL, never for one stored in clear beside a key field. */
  credentials: boolean;
  /** ?query and #fragment: a webhook may carry its token there; a base URL has no use for either. */
  query: boolean;
}

/** Why a URL someone wants Enclave to call is refused when it is saved (before any DNS lookup); null when it is fine. */
export function outboundUrlIssue(text: string, rules: UrlRules, policy: OutboundPolicy = outboundPolicy()): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be an http:// or https:// URL';
  }
  const why = policy.checkUrl(url);
  if (why) return `refused by the outbound policy: ${why}`;
  if (!rules.credentials && (url.username || url.password)) return 'must not carry a user name or password (the API key has its own field)';
  if (!rules.query && (url.search || url.hash)) return 'must not have a query or fragment';
  return null;
}

/** A URL field checked against the outbound policy; the message names the rule, never the URL (it may carry a token). */
export function outboundUrl(rules: UrlRules) {
  return z
    .string()
    .trim()
    .max(2048)
    .superRefine((text, ctx) => {
      const issue = outboundUrlIssue(text, rules);
      if (issue) ctx.addIssue({ code: 'custom', message: issue });
    });
}
