import { afterCommit } from '../db/after-commit';
import { errorMessage, log } from '../core/log';
import { enqueue } from '../core/queues';
import type { QueueDocument } from './bases';

/**
 * Hands a document to the knowledge queue once the API call's transaction has committed (a worker told
 * earlier would read the row as it was). If Redis refuses, the row stays 'queued' and says so in the list;
 * uploading again or changing the model queues it again.
 */
export const queueOnRedis: QueueDocument = (documentId) =>
  afterCommit(() => enqueue('knowledge', { documentId }).catch((e) => log.warn('knowledge enqueue failed', { documentId, error: errorMessage(e) })));
