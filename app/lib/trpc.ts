'use client';

import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
// Type-only: the browser bundle never contains server code, only the router's shape.
import type { AppRouter } from '../../server/api/router';
import type { inferRouterOutputs } from '@trpc/server';

export const trpc = createTRPCClient<AppRouter>({
  links: [httpBatchLink({ url: '/api/trpc' })],
});

export type RouterOutputs = inferRouterOutputs<AppRouter>;
export type Me = NonNullable<RouterOutputs['auth']['me']>;
export type Role = Me['role'];

export function isTRPCError(err: unknown): err is TRPCClientError<AppRouter> {
  return err instanceof TRPCClientError;
}

/** The tRPC error code ('NOT_FOUND', 'UNAUTHORIZED', ...) of an error, if it has one. */
export function errorCode(err: unknown): string | undefined {
  if (!isTRPCError(err)) return undefined;
  const data = err.data as { code?: string } | undefined;
  return data?.code ?? (err.shape as { data?: { code?: string } } | undefined)?.data?.code;
}
