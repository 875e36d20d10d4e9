CREATE TABLE "deployment_prices" (
	"deployment_id" uuid PRIMARY KEY NOT NULL,
	"prompt_per_million" numeric(14, 6) DEFAULT 0 NOT NULL,
	"completion_per_million" numeric(14, 6) DEFAULT 0 NOT NULL,
	"currency" text DEFAULT 'USD' NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "quotas" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"subject_kind" text NOT NULL,
	"subject_id" uuid,
	"requests_per_minute" integer,
	"tokens_per_day" bigint,
	"tokens_per_month" bigint,
	"max_concurrent" integer,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "quotas_subject_unique" UNIQUE NULLS NOT DISTINCT("subject_kind","subject_id"),
	CONSTRAINT "quotas_subject_kind" CHECK ("quotas"."subject_kind" IN ('default_user', 'default_key', 'user', 'key', 'group')),
	CONSTRAINT "quotas_subject_id" CHECK (("quotas"."subject_kind" LIKE 'default_%') = ("quotas"."subject_id" IS NULL)),
	CONSTRAINT "quotas_limits_positive" CHECK (coalesce("quotas"."requests_per_minute", 1) > 0 AND coalesce("quotas"."tokens_per_day", 1) > 0 AND coalesce("quotas"."tokens_per_month", 1) > 0 AND coalesce("quotas"."max_concurrent", 1) > 0)
);
--> statement-breakpoint
ALTER TABLE "deployment_prices" ADD CONSTRAINT "deployment_prices_deployment_id_deployments_id_fk" FOREIGN KEY ("deployment_id") REFERENCES "public"."deployments"("id") ON DELETE cascade ON UPDATE no action;
