import { defineConsumer } from '../server/core/queues';
import { ingestDocument, type IngestDeps } from '../server/knowledge/ingest';

/** The `knowledge` queue's consumer: parses, chunks and embeds one document per job (the row holds its state). */
export function startKnowledgeWorker(deps: IngestDeps) {
  return defineConsumer('knowledge', ({ documentId }) => ingestDocument(deps, documentId));
}
