import fs from 'node:fs';
import { eq } from 'drizzle-orm';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';
import type { Db } from '../../db/client';
import { modelVersions, models } from '../../db/schema';
import { isUuid } from '../../core/ids';
import { DomainError } from '../../core/errors';
import type { Tokenizer } from './validate';

/** Which tokenizer counted a dataset's tokens; stored in its stats so nobody mistakes an estimate for a count. */
export type TokenizerInfo =
  | { kind: 'model'; versionId: string; model: string; version: string }
  | { kind: 'estimate'; method: 'chars/4'; versionId?: string; reason: string };

export type LoadedTokenizer = { tokenize: Tokenizer; info: TokenizerInfo; dispose(): Promise<void> };

/** About four characters per token for English text under BPE tokenizers: only an estimate, and labelled one. */
const estimate: Tokenizer = (text) => Math.ceil(text.length / 4);

function estimated(reason: string, versionId?: string): LoadedTokenizer {
  return { tokenize: estimate, info: { kind: 'estimate', method: 'chars/4', reason, ...(versionId ? { versionId } : {}) }, dispose: async () => undefined };
}

/**
 * The tokenizer of a catalog version when it is a GGUF file on this host (its vocabulary only: no weights are
 * loaded, one thread), else the estimate with the reason. An id that names no version is the caller's error.
 */
export async function loadTokenizer(db: Db, versionId: string | undefined): Promise<LoadedTokenizer> {
  if (versionId === undefined) return estimated('no tokenizer model was chosen');
  if (!isUuid(versionId)) throw new DomainError('BAD_REQUEST', 'tokenizerVersionId: not a model version id');
  const [row] = await db
    .select({ id: modelVersions.id, format: modelVersions.format, location: modelVersions.location, version: modelVersions.version, model: models.name })
    .from(modelVersions)
    .innerJoin(models, eq(models.id, modelVersions.modelId))
    .where(eq(modelVersions.id, versionId));
  if (!row) throw new DomainError('BAD_REQUEST', 'tokenizerVersionId: no such model version');
  if (row.format !== 'gguf') return estimated(`${row.model} ${row.version} is a ${row.format} version; only GGUF tokenizers are loaded here`, row.id);
  if (!fs.statSync(row.location, { throwIfNoEntry: false })?.isFile())
    return estimated(`${row.model} ${row.version}: its GGUF file is not on this host`, row.id);
  const llama = await getLlama({ gpu: false, build: 'never', maxThreads: 1, logLevel: LlamaLogLevel.error });
  try {
    const model = await llama.loadModel({ modelPath: row.location, vocabOnly: true });
    return {
      tokenize: (text) => model.tokenize(text, false),
      info: { kind: 'model', versionId: row.id, model: row.model, version: row.version },
      dispose: () => llama.dispose(),
    };
  } catch (e) {
    await llama.dispose();
    return estimated(`${row.model} ${row.version}: the tokenizer could not be loaded (${e instanceof Error ? e.message : String(e)})`, row.id);
  }
}
