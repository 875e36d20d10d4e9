CREATE TABLE "load_test_samples" (
	"load_test_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"stage" integer DEFAULT 0 NOT NULL,
	"start_ms" real NOT NULL,
	"ttft_ms" real,
	"e2e_ms" real,
	"tpot_ms" real,
	"itl_ms" real[],
	"input_tokens" integer,
	"output_tokens" integer,
	"error" text,
	CONSTRAINT "load_test_samples_load_test_id_seq_pk" PRIMARY KEY("load_test_id","seq")
);
--> statement-breakpoint
CREATE TABLE "load_tests" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"owner_id" uuid NOT NULL,
	"name" text NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"deployment_id" uuid,
	"target_url" text NOT NULL,
	"model" text NOT NULL,
	"spec" jsonb NOT NULL,
	"progress" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"summary" jsonb,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "load_test_samples" ADD CONSTRAINT "load_test_samples_load_test_id_load_tests_id_fk" FOREIGN KEY ("load_test_id") REFERENCES "public"."load_tests"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "load_tests" ADD CONSTRAINT "load_tests_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "load_tests" ADD CONSTRAINT "load_tests_deployment_id_deployments_id_fk" FOREIGN KEY ("deployment_id") REFERENCES "public"."deployments"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "load_tests_owner_idx" ON "load_tests" USING btree ("owner_id","created_at");