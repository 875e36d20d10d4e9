-- What the memory estimator reads of a job's output (its config.json, or a GGUF file's header), kept with
-- the version when its files are in the artifact store: the planner on any worker sizes a deployment of
-- it without the files on its own disk (they are fetched by the agent that runs it, into its model cache).
-- Null for versions registered by path (their files are read where they are, as before).
ALTER TABLE "model_versions" ADD COLUMN "config" jsonb;
