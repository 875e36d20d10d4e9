-- The internal certificate authority (server/security/certificates/) and the client certificates it
-- issued to agents (server/fleet/nodes/node-certificates.ts). One CA row at most, created at first start
-- by whichever process gets there first; its private key is sealed under an install data key (so a
-- master key rotation re-wraps it with the rest). A node's certificates go with the node (cascade): an
-- unknown serial is refused like a revoked one.
CREATE TABLE "certificate_authority" (
	"id" smallint PRIMARY KEY DEFAULT 1 NOT NULL,
	"cert_pem" text NOT NULL,
	"key_ciphertext" "bytea" NOT NULL,
	"data_key_id" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "certificate_authority_single_check" CHECK ("id" = 1)
);
--> statement-breakpoint
CREATE TABLE "node_certificates" (
	"serial" text PRIMARY KEY NOT NULL,
	"node_id" uuid NOT NULL,
	"ca_fingerprint" text NOT NULL,
	"not_before" timestamp with time zone NOT NULL,
	"not_after" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "certificate_authority" ADD CONSTRAINT "certificate_authority_data_key_id_data_keys_id_fk" FOREIGN KEY ("data_key_id") REFERENCES "public"."data_keys"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "node_certificates" ADD CONSTRAINT "node_certificates_node_id_gpu_nodes_id_fk" FOREIGN KEY ("node_id") REFERENCES "public"."gpu_nodes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "node_certificates_node_idx" ON "node_certificates" USING btree ("node_id");
