-- Images and voice (issue 16, parts 5 and 6). A deployment declares what it can take besides text:
-- images in chat messages (vision: a vLLM multimodal model) and the audio endpoints (audio: a Whisper-style
-- transcription model or a speech model). Nothing is assumed: a deployment takes neither until an operator
-- says so, and the gateway refuses images and audio requests for it with a 400 naming it.
ALTER TABLE "deployments" ADD COLUMN "vision" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "deployments" ADD COLUMN "audio" boolean DEFAULT false NOT NULL;--> statement-breakpoint
-- Images attached to a chat message: user content, sealed under the owner's data key like the message's
-- text. Only the media type, size and pixel dimensions are in clear (quotas and the thread's layout).
CREATE TABLE "message_attachments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"message_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"media_type" text NOT NULL,
	"bytes" integer NOT NULL,
	"width" integer,
	"height" integer,
	"content_enc" bytea NOT NULL,
	"data_key_id" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "message_attachments_media_type_check" CHECK ("media_type" IN ('image/png', 'image/jpeg', 'image/webp', 'image/gif'))
);--> statement-breakpoint
ALTER TABLE "message_attachments" ADD CONSTRAINT "message_attachments_message_fk" FOREIGN KEY ("message_id") REFERENCES "public"."messages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "message_attachments" ADD CONSTRAINT "message_attachments_data_key_fk" FOREIGN KEY ("data_key_id") REFERENCES "public"."data_keys"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "message_attachments_message_idx" ON "message_attachments" USING btree ("message_id","position");
