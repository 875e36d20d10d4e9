-- System prompts and presets (issue 16, part 2). A conversation's system prompt is user content: sealed
-- like its title (key id ‖ sealed text) under the owner's data key. A preset (name, system prompt, model,
-- sampling, context policy) belongs to a user and may be shared with groups; its system prompt is sealed
-- under its owner's key, so erasing the owner erases it. Starting a chat from a preset copies its values
-- into the conversation: editing or deleting the preset later never changes a conversation.
ALTER TABLE "conversations" ADD COLUMN "system_prompt_enc" bytea;--> statement-breakpoint
ALTER TABLE "conversations" ADD COLUMN "top_p" real;--> statement-breakpoint
ALTER TABLE "conversations" ADD CONSTRAINT "conversations_top_p_check" CHECK ("top_p" IS NULL OR ("top_p" > 0 AND "top_p" <= 1));--> statement-breakpoint
CREATE TABLE "presets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"owner_id" uuid NOT NULL,
	"name" text NOT NULL,
	"system_prompt_enc" bytea NOT NULL,
	"model" text,
	"temperature" real,
	"top_p" real,
	"max_tokens" integer,
	"context_policy" text DEFAULT 'summarize' NOT NULL,
	"context_turns" integer,
	"group_ids" uuid[] DEFAULT '{}' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "presets_values_check" CHECK (length("name") BETWEEN 1 AND 100 AND ("temperature" IS NULL OR "temperature" BETWEEN 0 AND 2) AND ("top_p" IS NULL OR ("top_p" > 0 AND "top_p" <= 1)) AND ("max_tokens" IS NULL OR "max_tokens" BETWEEN 1 AND 4096) AND "context_policy" IN ('summarize', 'trim', 'turns') AND ("context_turns" IS NULL OR "context_turns" BETWEEN 1 AND 1000) AND cardinality("group_ids") <= 64)
);--> statement-breakpoint
ALTER TABLE "presets" ADD CONSTRAINT "presets_owner_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "presets_owner_idx" ON "presets" USING btree ("owner_id");--> statement-breakpoint
CREATE INDEX "presets_groups_idx" ON "presets" USING gin ("group_ids");
