-- Plugins through webhooks (issue 16, part 7). A tool is an admin-registered HTTP endpoint the chat's
-- model may call; its secret (HMAC key for the signed requests) is sealed under the install's data key.
-- Tools are offered only to members of the groups they are granted to, and only on deployments marked
-- tool-capable (a model that can call functions; off until an admin turns it on).
ALTER TABLE "deployments" ADD COLUMN "tools" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE TABLE "tools" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"parameters" jsonb NOT NULL,
	"endpoint" text NOT NULL,
	"secret_enc" bytea NOT NULL,
	"data_key_id" integer NOT NULL,
	"timeout_ms" integer DEFAULT 10000 NOT NULL,
	"max_response_bytes" integer DEFAULT 65536 NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tools_name_unique" UNIQUE("name"),
	CONSTRAINT "tools_values_check" CHECK ("name" ~ '^[a-zA-Z0-9_-]{1,64}$' AND "timeout_ms" BETWEEN 100 AND 120000 AND "max_response_bytes" BETWEEN 256 AND 1048576)
);--> statement-breakpoint
CREATE TABLE "tool_grants" (
	"tool_id" uuid NOT NULL,
	"group_id" uuid NOT NULL,
	CONSTRAINT "tool_grants_tool_id_group_id_pk" PRIMARY KEY("tool_id","group_id")
);--> statement-breakpoint
ALTER TABLE "tools" ADD CONSTRAINT "tools_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tool_grants" ADD CONSTRAINT "tool_grants_tool_id_tools_id_fk" FOREIGN KEY ("tool_id") REFERENCES "public"."tools"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tool_grants" ADD CONSTRAINT "tool_grants_group_id_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "tool_grants_group_idx" ON "tool_grants" USING btree ("group_id");
