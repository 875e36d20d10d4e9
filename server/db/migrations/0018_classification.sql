CREATE TABLE "data_classifications" (
	"subject_kind" text NOT NULL,
	"subject_id" uuid NOT NULL,
	"level" smallint NOT NULL,
	"set_by" text NOT NULL,
	"declared_level" smallint,
	"findings" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "data_classifications_subject_kind_subject_id_pk" PRIMARY KEY("subject_kind","subject_id"),
	CONSTRAINT "data_classifications_kind" CHECK ("data_classifications"."subject_kind" IN ('conversation', 'dataset', 'api_key')),
	CONSTRAINT "data_classifications_level" CHECK ("data_classifications"."level" BETWEEN 0 AND 3),
	CONSTRAINT "data_classifications_declared_level" CHECK ("data_classifications"."declared_level" IS NULL OR "data_classifications"."declared_level" BETWEEN 0 AND 3),
	CONSTRAINT "data_classifications_set_by" CHECK ("data_classifications"."set_by" IN ('user', 'detector', 'admin'))
);
--> statement-breakpoint
CREATE TABLE "pii_rules" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"pattern" text NOT NULL,
	"level" smallint NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_by" uuid,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "pii_rules_name_unique" UNIQUE("name"),
	CONSTRAINT "pii_rules_kind" CHECK ("pii_rules"."kind" IN ('regex', 'keywords')),
	CONSTRAINT "pii_rules_level" CHECK ("pii_rules"."level" BETWEEN 0 AND 3),
	CONSTRAINT "pii_rules_pattern_length" CHECK (length("pii_rules"."pattern") BETWEEN 1 AND 60000)
);
--> statement-breakpoint
CREATE TABLE "finding_levels" (
	"finding_type" text PRIMARY KEY NOT NULL,
	"level" smallint NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "finding_levels_level" CHECK ("finding_levels"."level" BETWEEN 0 AND 3)
);
--> statement-breakpoint
CREATE TABLE "deployment_data_policies" (
	"deployment_id" uuid PRIMARY KEY NOT NULL,
	"max_level" smallint NOT NULL,
	"mode" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "deployment_data_policies_level" CHECK ("deployment_data_policies"."max_level" BETWEEN 0 AND 3),
	CONSTRAINT "deployment_data_policies_mode" CHECK ("deployment_data_policies"."mode" IN ('block', 'mask', 'allow'))
);
--> statement-breakpoint
ALTER TABLE "pii_rules" ADD CONSTRAINT "pii_rules_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;
--> statement-breakpoint
ALTER TABLE "deployment_data_policies" ADD CONSTRAINT "deployment_data_policies_deployment_id_deployments_id_fk" FOREIGN KEY ("deployment_id") REFERENCES "public"."deployments"("id") ON DELETE cascade ON UPDATE no action;
