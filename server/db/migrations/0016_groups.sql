CREATE TABLE "deployment_grants" (
	"deployment_id" uuid NOT NULL,
	"group_id" uuid NOT NULL,
	"granted_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "deployment_grants_deployment_id_group_id_pk" PRIMARY KEY("deployment_id","group_id")
);
--> statement-breakpoint
CREATE TABLE "group_links" (
	"group_id" uuid NOT NULL,
	"source" text NOT NULL,
	"external" text NOT NULL,
	CONSTRAINT "group_links_source_external_group_id_pk" PRIMARY KEY("source","external","group_id"),
	CONSTRAINT "group_links_source" CHECK ("group_links"."source" IN ('ldap', 'oidc'))
);
--> statement-breakpoint
CREATE TABLE "group_members" (
	"group_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"source" text NOT NULL,
	"added_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "group_members_group_id_user_id_source_pk" PRIMARY KEY("group_id","user_id","source"),
	CONSTRAINT "group_members_source" CHECK ("group_members"."source" IN ('local', 'ldap', 'oidc'))
);
--> statement-breakpoint
CREATE TABLE "groups" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "groups_name_unique" UNIQUE("name")
);
--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "oidc_groups" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "deployment_grants" ADD CONSTRAINT "deployment_grants_deployment_id_deployments_id_fk" FOREIGN KEY ("deployment_id") REFERENCES "public"."deployments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployment_grants" ADD CONSTRAINT "deployment_grants_group_id_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "group_links" ADD CONSTRAINT "group_links_group_id_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "group_members" ADD CONSTRAINT "group_members_group_id_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "group_members" ADD CONSTRAINT "group_members_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "deployment_grants_group_idx" ON "deployment_grants" USING btree ("group_id");--> statement-breakpoint
CREATE INDEX "group_links_group_idx" ON "group_links" USING btree ("group_id");--> statement-breakpoint
CREATE INDEX "group_members_user_idx" ON "group_members" USING btree ("user_id");