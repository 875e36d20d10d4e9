CREATE TABLE "replica_start_measurements" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"deployment_id" uuid NOT NULL,
	"replica_id" uuid NOT NULL,
	"replica_started_at" timestamp with time zone NOT NULL,
	"model_version_id" uuid,
	"engine" text NOT NULL,
	"dtype" text NOT NULL,
	"quantization" text,
	"tp" integer NOT NULL,
	"pp" integer NOT NULL,
	"max_model_len" integer,
	"node_name" text,
	"gpu_name" text,
	"gpu_memory_total_mib" integer,
	"claim_bytes" bigint,
	"planned_from" text DEFAULT 'estimate' NOT NULL,
	"predicted_weights_bytes" bigint,
	"predicted_activation_bytes" bigint,
	"predicted_overhead_bytes" bigint,
	"predicted_kv_cache_bytes" bigint,
	"predicted_max_concurrency" real,
	"measured_weights_bytes" bigint,
	"measured_non_torch_bytes" bigint,
	"measured_activation_bytes" bigint,
	"measured_cuda_graph_bytes" bigint,
	"measured_kv_cache_bytes" bigint,
	"measured_kv_cache_tokens" bigint,
	"measured_gpu_blocks" integer,
	"measured_max_concurrency" real,
	"log_wording" text,
	"engine_version" text,
	"measured_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "replica_start_measurements_start_uq" UNIQUE("replica_id","replica_started_at")
);
--> statement-breakpoint
ALTER TABLE "replica_start_measurements" ADD CONSTRAINT "replica_start_measurements_deployment_id_deployments_id_fk" FOREIGN KEY ("deployment_id") REFERENCES "public"."deployments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "replica_start_measurements" ADD CONSTRAINT "replica_start_measurements_replica_id_deployment_replicas_id_fk" FOREIGN KEY ("replica_id") REFERENCES "public"."deployment_replicas"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "replica_start_measurements" ADD CONSTRAINT "replica_start_measurements_model_version_id_model_versions_id_fk" FOREIGN KEY ("model_version_id") REFERENCES "public"."model_versions"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "replica_start_measurements_match_idx" ON "replica_start_measurements" USING btree ("model_version_id","tp","gpu_name","measured_at");--> statement-breakpoint
CREATE INDEX "replica_start_measurements_deployment_idx" ON "replica_start_measurements" USING btree ("deployment_id","measured_at");