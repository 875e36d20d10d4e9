import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { env } from '../../core/env';
import { createDb } from '../../db/client';
import { writeTrainerInput } from '../../lifecycle/jobs/inputs';

/**
 * A worker on another host, in a process of its own: it has its own data directory (ENCLAVE_DATA_DIR) and
 * shares only the database and the artifact store (ENCLAVE_ARTIFACTS and ENCLAVE_S3_* from the environment)
 * with the web process that took the upload. It writes a fine-tune's training input the way the training
 * worker does (writeTrainerInput) for TEST_DATASET_ID and tells the parent the rows and the file's SHA-256.
 */
const db = createDb(process.env.DATABASE_URL!, 2);
const masterKey = Buffer.from(process.env.TEST_MASTER_KEY_HEX!, 'hex');
const out = path.join(env().dataDir, 'train.jsonl');
try {
  const rows = await writeTrainerInput(db, { masterKey, dataDir: env().dataDir }, { kind: 'finetune', datasetId: process.env.TEST_DATASET_ID!, spec: {} }, 'train', out);
  process.send!({ rows, sha256: createHash('sha256').update(fs.readFileSync(out)).digest('hex'), text: fs.readFileSync(out, 'utf8') });
} catch (e) {
  process.send!({ error: (e as Error).message });
} finally {
  await db.$client.end();
}
