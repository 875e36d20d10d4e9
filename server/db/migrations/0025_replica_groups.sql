-- Multi-node replicas (vLLM pipeline parallel across hosts). The deployment_replicas row stays the one
-- replica the gateway routes to: its node is the group's head (rank 0, the only API server) and its URL
-- the head's. The other hosts' processes are members, one row per rank per start (generation = the
-- replica's restarts when it was placed), so a late report from an earlier start never touches this one.
-- rendezvous: where members join the head ('mp://host:port' for vLLM's own multi-node launch,
-- 'ray://host:port' for a Ray head), published by the head's agent once it listens; null until then.
ALTER TABLE "deployment_replicas" ADD COLUMN "rendezvous" text;
--> statement-breakpoint
CREATE TABLE "replica_members" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"replica_id" uuid NOT NULL,
	"generation" integer NOT NULL,
	"rank" integer NOT NULL,
	"node_name" text NOT NULL,
	"gpu_indices" integer[] NOT NULL,
	"status" text DEFAULT 'starting' NOT NULL,
	"pid" integer,
	"log_path" text,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "replica_members_rank_check" CHECK ("rank" >= 1),
	CONSTRAINT "replica_members_status_check" CHECK ("status" IN ('starting', 'failed', 'stopped'))
);
--> statement-breakpoint
ALTER TABLE "replica_members" ADD CONSTRAINT "replica_members_replica_id_deployment_replicas_id_fk" FOREIGN KEY ("replica_id") REFERENCES "public"."deployment_replicas"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "replica_members_generation_rank_idx" ON "replica_members" USING btree ("replica_id", "generation", "rank");--> statement-breakpoint
CREATE INDEX "replica_members_node_idx" ON "replica_members" USING btree ("node_name") WHERE "status" <> 'stopped';
