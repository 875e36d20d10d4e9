-- Images uploaded through /v1/files (issue 16, part 5): a caller uploads an image once and refers to it in
-- chat requests as image_url "enclave-file:<id>"; the gateway opens it and sends the engine a data: URL.
-- The bytes and the file name are user content, sealed under the owner's data key; only the purpose, media
-- type, size and pixel dimensions are in clear. Owned by the API key's user (another user's id is not
-- found); gone with the user, and with the data key when an erasure destroys it.
CREATE TABLE "api_files" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"api_key_id" uuid,
	"purpose" text NOT NULL,
	"media_type" text NOT NULL,
	"bytes" integer NOT NULL,
	"width" integer,
	"height" integer,
	"filename_enc" bytea,
	"content_enc" bytea NOT NULL,
	"data_key_id" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "api_files_purpose_check" CHECK ("purpose" IN ('vision')),
	CONSTRAINT "api_files_media_type_check" CHECK ("media_type" IN ('image/png', 'image/jpeg', 'image/webp', 'image/gif'))
);--> statement-breakpoint
ALTER TABLE "api_files" ADD CONSTRAINT "api_files_user_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_files" ADD CONSTRAINT "api_files_api_key_fk" FOREIGN KEY ("api_key_id") REFERENCES "public"."api_keys"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_files" ADD CONSTRAINT "api_files_data_key_fk" FOREIGN KEY ("data_key_id") REFERENCES "public"."data_keys"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "api_files_user_idx" ON "api_files" USING btree ("user_id","created_at");
