import { defineConsumer } from '../server/core/queues';
import { errorMessage, log } from '../server/core/log';
import { ingestDocument, type IngestDeps } from '../server/knowledge/ingest';
import { forgetStalls } from '../server/knowledge/stalled';

/**
 * The `knowledge` queue's consumer: parses, chunks and embeds one document per job (the row holds its state).
 * A job that ran to its end (ready, failed or deleted) clears the document's stall count (knowledge/stalled.ts).
 */
export function startKnowledgeWorker(deps: IngestDeps) {
  return defineConsumer('knowledge', async ({ documentId }) => {
    await ingestDocument(deps, documentId);
    await forgetStalls(documentId).catch((e) => log.warn('knowledge stall count not cleared', { documentId, error: errorMessage(e) }));
  });
}
