/**
 * The request header through which the web server tells app/not-found.tsx why it is rendering it:
 * "forbidden" (the role may not open this page: safe to say, it reveals no one's data) or "not-found"
 * (a missing page, or someone else's conversation: never distinguished). A client's own value is
 * dropped before the guard runs, so only the server sets it. No imports: the UI build reads this file.
 */
export const PAGE_DECISION_HEADER = 'x-enclave-page-decision';
export type PageDecisionKind = 'forbidden' | 'not-found';
