-- What a node's agent reports about its host with each heartbeat (issue 16 part 8): CPU cores and model,
-- load, memory and the data directory's disk, as one JSON document (server/fleet/host/host-stats.ts
-- validates it). The GPU page shows it for every node, and it is all there is to show for a CPU-only one.
ALTER TABLE "gpu_nodes" ADD COLUMN "host" jsonb;--> statement-breakpoint
ALTER TABLE "gpu_nodes" ADD COLUMN "host_at" timestamp with time zone;
