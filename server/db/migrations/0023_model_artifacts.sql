-- A model version's copy in the artifact store (server/artifacts/: a shared directory or S3, sealed with
-- Enclave's envelope encryption): the key Enclave chose when a job registered its output. An agent whose
-- host lacks the file at `location` fetches this object into its model cache before starting an engine.
-- Null for versions registered by path only (their file must be at `location` on the host that runs them).
ALTER TABLE "model_versions" ADD COLUMN "artifact_key" text;
