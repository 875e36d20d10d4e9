import type { Db } from './client';

/** A transaction handle, so a domain function can run inside a caller's transaction or on its own. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type DbOrTx = Db | Tx;
