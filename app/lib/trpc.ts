'use client';

import { createTRPCClient, httpBatchLink, httpBatchStreamLink, httpSubscriptionLink, splitLink, TRPCClientError } from '@trpc/client';
import { createTRPCContext } from '@trpc/tanstack-react-query';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
// Type-only: the browser bundle never contains server code, only the router's shape...
import type { AppRouter } from '../../server/api/router';
// ...and how values travel (superjson answers), which both sides must agree on.
import { transformer } from '../../server/api/transformer';

const url = '/api/trpc';
/** Procedures answered with a stream of events; each gets a request of its own, so stopping it stops only it. */
const STREAMED = new Set(['chat.send', 'arena.start']);

/** The one client: calls batched, streams on their own request, subscriptions as server-sent events. */
export const trpcClient = createTRPCClient<AppRouter>({
  links: [
    splitLink({
      condition: (op) => op.type === 'subscription',
      true: httpSubscriptionLink({ url, transformer }),
      false: splitLink({
        condition: (op) => STREAMED.has(op.path),
        true: httpBatchStreamLink({ url, transformer, maxItems: 1 }),
        // Not streamed: sign-in sets its cookie on the answer, which a started stream can no longer do.
        false: httpBatchLink({ url, transformer }),
      }),
    }),
  ],
});

/** Queries and mutations as TanStack Query options: `useQuery(trpc.jobs.list.queryOptions())`. */
export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

export type RouterOutputs = inferRouterOutputs<AppRouter>;
export type RouterInputs = inferRouterInputs<AppRouter>;
export type Me = NonNullable<RouterOutputs['auth']['me']>;
export type Role = Me['role'];

export function isTRPCError(err: unknown): err is TRPCClientError<AppRouter> {
  return err instanceof TRPCClientError;
}

/** The tRPC error code ('NOT_FOUND', 'UNAUTHORIZED', ...) of an error, if it has one. */
export function errorCode(err: unknown): string | undefined {
  return isTRPCError(err) ? err.data?.code : undefined;
}

/** The HTTP status a refusal carried (401, 429...), if it has one. */
export function errorStatus(err: unknown): number | undefined {
  return isTRPCError(err) ? err.data?.httpStatus : undefined;
}
