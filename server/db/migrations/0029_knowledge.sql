-- Knowledge bases (issue 16, part 4). A base belongs to a user and may be shared with groups; its
-- documents are parsed into chunks, each chunk's text and vector sealed under the owner's data key
-- (key id ‖ sealed bytes, like titles): a vector is derived from the text and can be inverted in part.
-- Full-text search runs on a blind index: per chunk, the HMAC-SHA256 (per-install key, truncated to
-- 8 bytes) of each normalised term with its count, so PostgreSQL ranks by term match (BM25) without
-- ever holding a plain word. Deleting a document deletes its chunks, vectors and terms (cascade).
CREATE TABLE "knowledge_bases" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"owner_id" uuid NOT NULL,
	"name" text NOT NULL,
	"embedding_model" text NOT NULL,
	"group_ids" uuid[] DEFAULT '{}' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "knowledge_bases_values_check" CHECK (length("name") BETWEEN 1 AND 100 AND length("embedding_model") BETWEEN 1 AND 200 AND cardinality("group_ids") <= 64)
);--> statement-breakpoint
ALTER TABLE "knowledge_bases" ADD CONSTRAINT "knowledge_bases_owner_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "knowledge_bases_owner_idx" ON "knowledge_bases" USING btree ("owner_id");--> statement-breakpoint
CREATE INDEX "knowledge_bases_groups_idx" ON "knowledge_bases" USING gin ("group_ids");--> statement-breakpoint
CREATE TABLE "kb_documents" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"kb_id" uuid NOT NULL,
	"name_enc" bytea NOT NULL,
	"mime" text NOT NULL,
	"size" integer NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"error" text,
	"progress" real DEFAULT 0 NOT NULL,
	"pages" integer,
	"chunk_count" integer DEFAULT 0 NOT NULL,
	"source_enc" bytea,
	"embedded_model" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "kb_documents_values_check" CHECK ("status" IN ('queued', 'parsing', 'embedding', 'ready', 'failed') AND "progress" BETWEEN 0 AND 1 AND "size" >= 0)
);--> statement-breakpoint
ALTER TABLE "kb_documents" ADD CONSTRAINT "kb_documents_kb_fk" FOREIGN KEY ("kb_id") REFERENCES "public"."knowledge_bases"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "kb_documents_kb_idx" ON "kb_documents" USING btree ("kb_id", "created_at");--> statement-breakpoint
CREATE TABLE "kb_chunks" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"document_id" uuid NOT NULL,
	"kb_id" uuid NOT NULL,
	"ordinal" integer NOT NULL,
	"page" integer,
	"char_start" integer NOT NULL,
	"char_end" integer NOT NULL,
	"term_count" integer NOT NULL,
	"content_enc" bytea NOT NULL,
	"vector_enc" bytea,
	CONSTRAINT "kb_chunks_range_check" CHECK ("char_start" >= 0 AND "char_end" >= "char_start")
);--> statement-breakpoint
ALTER TABLE "kb_chunks" ADD CONSTRAINT "kb_chunks_document_fk" FOREIGN KEY ("document_id") REFERENCES "public"."kb_documents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "kb_chunks" ADD CONSTRAINT "kb_chunks_kb_fk" FOREIGN KEY ("kb_id") REFERENCES "public"."knowledge_bases"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "kb_chunks_document_ordinal_idx" ON "kb_chunks" USING btree ("document_id", "ordinal");--> statement-breakpoint
CREATE INDEX "kb_chunks_kb_idx" ON "kb_chunks" USING btree ("kb_id");--> statement-breakpoint
CREATE TABLE "kb_chunk_terms" (
	"chunk_id" uuid NOT NULL,
	"kb_id" uuid NOT NULL,
	"term" bytea NOT NULL,
	"tf" integer NOT NULL,
	CONSTRAINT "kb_chunk_terms_pk" PRIMARY KEY ("chunk_id", "term")
);--> statement-breakpoint
ALTER TABLE "kb_chunk_terms" ADD CONSTRAINT "kb_chunk_terms_chunk_fk" FOREIGN KEY ("chunk_id") REFERENCES "public"."kb_chunks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "kb_chunk_terms_kb_term_idx" ON "kb_chunk_terms" USING btree ("kb_id", "term");--> statement-breakpoint
CREATE TABLE "conversation_knowledge" (
	"conversation_id" uuid NOT NULL,
	"kb_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "conversation_knowledge_pk" PRIMARY KEY ("conversation_id", "kb_id")
);--> statement-breakpoint
ALTER TABLE "conversation_knowledge" ADD CONSTRAINT "conversation_knowledge_conversation_fk" FOREIGN KEY ("conversation_id") REFERENCES "public"."conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "conversation_knowledge" ADD CONSTRAINT "conversation_knowledge_kb_fk" FOREIGN KEY ("kb_id") REFERENCES "public"."knowledge_bases"("id") ON DELETE cascade ON UPDATE no action;
