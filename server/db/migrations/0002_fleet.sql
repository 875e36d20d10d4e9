CREATE TABLE "allocations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"node_id" uuid NOT NULL,
	"gpu_index" integer NOT NULL,
	"holder_kind" text NOT NULL,
	"holder_id" uuid NOT NULL,
	"memory_bytes" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"released_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "deployment_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"deployment_id" uuid NOT NULL,
	"replica_id" uuid,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"kind" text NOT NULL,
	"message" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "gpu_nodes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"address" text,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"driver_version" text,
	"cuda_version" text,
	"topology" jsonb,
	"status" text DEFAULT 'healthy' NOT NULL,
	"last_heartbeat_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "gpu_nodes_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "gpu_samples" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"node_id" uuid NOT NULL,
	"gpu_index" integer NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"utilization_pct" real,
	"memory_used_mib" integer,
	"memory_total_mib" integer,
	"temperature_c" real,
	"power_w" real,
	CONSTRAINT "gpu_samples_bucket_uq" UNIQUE("node_id","gpu_index","at")
);
--> statement-breakpoint
CREATE TABLE "gpus" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"node_id" uuid NOT NULL,
	"index" integer NOT NULL,
	"uuid" text,
	"name" text NOT NULL,
	"memory_total_mib" integer,
	"mig_parent_uuid" text,
	"numa_node" integer,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "gpus_node_index_uq" UNIQUE("node_id","index")
);
--> statement-breakpoint
CREATE TABLE "join_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"token_hash" text NOT NULL,
	"created_by" uuid,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"used_by_node_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "join_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
ALTER TABLE "deployment_replicas" ADD COLUMN "log_path" text;--> statement-breakpoint
ALTER TABLE "allocations" ADD CONSTRAINT "allocations_node_id_gpu_nodes_id_fk" FOREIGN KEY ("node_id") REFERENCES "public"."gpu_nodes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployment_events" ADD CONSTRAINT "deployment_events_deployment_id_deployments_id_fk" FOREIGN KEY ("deployment_id") REFERENCES "public"."deployments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "gpu_samples" ADD CONSTRAINT "gpu_samples_node_id_gpu_nodes_id_fk" FOREIGN KEY ("node_id") REFERENCES "public"."gpu_nodes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "gpus" ADD CONSTRAINT "gpus_node_id_gpu_nodes_id_fk" FOREIGN KEY ("node_id") REFERENCES "public"."gpu_nodes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "allocations_active_idx" ON "allocations" USING btree ("node_id","gpu_index","released_at");--> statement-breakpoint
CREATE INDEX "allocations_holder_idx" ON "allocations" USING btree ("holder_kind","holder_id");--> statement-breakpoint
CREATE INDEX "deployment_events_deployment_idx" ON "deployment_events" USING btree ("deployment_id","at");--> statement-breakpoint
CREATE INDEX "gpu_samples_node_at_idx" ON "gpu_samples" USING btree ("node_id","at");