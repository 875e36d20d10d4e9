-- Conversations that never hit a wall (issue 16, part 1). Each conversation has a context policy: older
-- turns summarised by the model itself ('summarize', the default), dropped ('trim'), or only the last
-- context_turns user turns sent ('turns'). A summary covers a branch up to and including one message
-- (through_message_id): every branch through that message can use it, since a message's ancestors never
-- change. Summaries are user content: sealed under the owner's data key like messages.
ALTER TABLE "conversations" ADD COLUMN "context_policy" text DEFAULT 'summarize' NOT NULL;--> statement-breakpoint
ALTER TABLE "conversations" ADD COLUMN "context_turns" integer;--> statement-breakpoint
ALTER TABLE "conversations" ADD CONSTRAINT "conversations_context_policy_check" CHECK ("context_policy" IN ('summarize', 'trim', 'turns') AND ("context_turns" IS NULL OR "context_turns" BETWEEN 1 AND 1000) AND ("context_policy" <> 'turns' OR "context_turns" IS NOT NULL));--> statement-breakpoint
CREATE TABLE "conversation_summaries" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"conversation_id" uuid NOT NULL,
	"through_message_id" uuid NOT NULL,
	"covered" integer NOT NULL,
	"content_enc" bytea NOT NULL,
	"data_key_id" integer NOT NULL,
	"model" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);--> statement-breakpoint
ALTER TABLE "conversation_summaries" ADD CONSTRAINT "conversation_summaries_conversation_fk" FOREIGN KEY ("conversation_id") REFERENCES "public"."conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "conversation_summaries" ADD CONSTRAINT "conversation_summaries_message_fk" FOREIGN KEY ("through_message_id") REFERENCES "public"."messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "conversation_summaries" ADD CONSTRAINT "conversation_summaries_data_key_fk" FOREIGN KEY ("data_key_id") REFERENCES "public"."data_keys"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "conversation_summaries_conversation_idx" ON "conversation_summaries" USING btree ("conversation_id","created_at");
