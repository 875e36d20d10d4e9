-- Issue 16 part 4: knowledge bases attached to a preset (attached to a conversation started from it, each
-- base only where the starting user can read it), and the index of the sweep that re-queues documents
-- left unfinished by a worker that died (server/knowledge/stalled.ts).
CREATE TABLE "preset_knowledge" (
	"preset_id" uuid NOT NULL,
	"kb_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "preset_knowledge_pk" PRIMARY KEY ("preset_id", "kb_id")
);--> statement-breakpoint
ALTER TABLE "preset_knowledge" ADD CONSTRAINT "preset_knowledge_preset_fk" FOREIGN KEY ("preset_id") REFERENCES "public"."presets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "preset_knowledge" ADD CONSTRAINT "preset_knowledge_kb_fk" FOREIGN KEY ("kb_id") REFERENCES "public"."knowledge_bases"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "preset_knowledge_kb_idx" ON "preset_knowledge" USING btree ("kb_id");--> statement-breakpoint
CREATE INDEX "kb_documents_unfinished_idx" ON "kb_documents" USING btree ("updated_at") WHERE "kb_documents"."status" IN ('queued', 'parsing', 'embedding');
