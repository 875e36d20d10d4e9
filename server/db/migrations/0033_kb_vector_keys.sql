-- The approximate vector index of a knowledge base (issue 16 part 4, server/knowledge/vector-index.ts)
-- keys each chunk's vector by its document's serial and the chunk's ordinal (serial * 2^20 + ordinal):
-- a number the HNSW index can hold, from which the chunk row is found again, and the keys of a deleted
-- or re-embedded document follow from its serial and chunk count without a list of them.
ALTER TABLE "kb_documents" ADD COLUMN "serial" bigint GENERATED ALWAYS AS IDENTITY;--> statement-breakpoint
CREATE UNIQUE INDEX "kb_documents_serial_idx" ON "kb_documents" USING btree ("serial");
