CREATE TABLE "reply_streams" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"message_ids" uuid[] NOT NULL,
	"lease_until" timestamp with time zone NOT NULL,
	"audit" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "reply_streams_lease_idx" ON "reply_streams" USING btree ("lease_until");