-- The resilient gateway (issue 14, part 4): per deployment, its response cache, its timeouts and retry
-- budget, and where a request goes when every replica failed (fallback chain) or its prompt did not fit
-- (context fallback). NULL timeouts and retries mean the gateway's settings (GATEWAY_*_TIMEOUT_MS; every
-- replica tried once), so existing deployments behave as before. Fallback ids are an array (an ordered
-- chain cannot be one foreign key): the gateway skips ids that no longer exist, and the API checks them.
ALTER TABLE "deployments" ADD COLUMN "cache_mode" text DEFAULT 'deterministic' NOT NULL;--> statement-breakpoint
ALTER TABLE "deployments" ADD COLUMN "cache_ttl_seconds" integer DEFAULT 3600 NOT NULL;--> statement-breakpoint
ALTER TABLE "deployments" ADD COLUMN "first_token_timeout_ms" integer;--> statement-breakpoint
ALTER TABLE "deployments" ADD COLUMN "request_timeout_ms" integer;--> statement-breakpoint
ALTER TABLE "deployments" ADD COLUMN "max_retries" integer;--> statement-breakpoint
ALTER TABLE "deployments" ADD COLUMN "retry_budget_ratio" real;--> statement-breakpoint
ALTER TABLE "deployments" ADD COLUMN "fallback_deployment_ids" uuid[] DEFAULT '{}' NOT NULL;--> statement-breakpoint
ALTER TABLE "deployments" ADD COLUMN "context_fallback_deployment_id" uuid;--> statement-breakpoint
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_context_fallback_fk" FOREIGN KEY ("context_fallback_deployment_id") REFERENCES "public"."deployments"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_cache_mode_check" CHECK ("cache_mode" IN ('off', 'deterministic', 'all'));--> statement-breakpoint
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_cache_ttl_check" CHECK ("cache_ttl_seconds" BETWEEN 1 AND 2592000);--> statement-breakpoint
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_timeouts_check" CHECK (("first_token_timeout_ms" IS NULL OR "first_token_timeout_ms" BETWEEN 100 AND 3600000) AND ("request_timeout_ms" IS NULL OR "request_timeout_ms" BETWEEN 100 AND 3600000));--> statement-breakpoint
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_retries_check" CHECK (("max_retries" IS NULL OR "max_retries" BETWEEN 0 AND 16) AND ("retry_budget_ratio" IS NULL OR "retry_budget_ratio" BETWEEN 0 AND 1));--> statement-breakpoint
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_fallbacks_check" CHECK (cardinality("fallback_deployment_ids") <= 8 AND NOT ("id" = ANY ("fallback_deployment_ids")) AND "context_fallback_deployment_id" IS DISTINCT FROM "id");--> statement-breakpoint
-- Which answer a request got: from the cache (hit), stored in it (miss), or NULL (not cacheable); and,
-- when another deployment answered, the one asked for (deployment_id is the one that answered, whose
-- replica is replica_id) and why ('replicas_failed', 'replicas_set_aside', 'no_ready_replica', 'context_length').
ALTER TABLE "request_logs" ADD COLUMN "cache" text;--> statement-breakpoint
ALTER TABLE "request_logs" ADD COLUMN "fallback_from_id" uuid;--> statement-breakpoint
ALTER TABLE "request_logs" ADD COLUMN "fallback_reason" text;
