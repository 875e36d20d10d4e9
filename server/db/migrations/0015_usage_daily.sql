CREATE TABLE "usage_daily" (
	"day" date NOT NULL,
	"user_id" uuid,
	"api_key_id" uuid,
	"model" text NOT NULL,
	"deployment_id" uuid,
	"requests" integer NOT NULL,
	"errors" integer NOT NULL,
	"prompt_tokens" bigint NOT NULL,
	"completion_tokens" bigint NOT NULL,
	"cost" numeric(20, 6),
	"currency" text,
	"rolled_up_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "usage_daily_group_unique" UNIQUE NULLS NOT DISTINCT("day","user_id","api_key_id","model","deployment_id")
);
--> statement-breakpoint
CREATE INDEX "usage_daily_user_day_idx" ON "usage_daily" USING btree ("user_id","day");--> statement-breakpoint
CREATE INDEX "usage_daily_day_idx" ON "usage_daily" USING btree ("day");