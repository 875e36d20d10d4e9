import { codeForStatus, DomainError } from '../core/errors';
import type { Level } from '../security/classification';
import { internalToken } from '../security/master-key';

export interface EmbedDeps {
  gatewayUrl: string;
  masterKey: Buffer;
}

/** Inputs per /v1/embeddings call while ingesting: few enough that one call stays short, many enough to batch. */
export const EMBED_BATCH = 16;

/**
 * Embeddings through the gateway as `userId` (the internal token and x-enclave-user-id, as the chat does):
 * the gateway checks that user's access to the deployment, charges their quota and logs the call.
 * An input longer than the model takes is cut and sent again (the engine says how many tokens it takes),
 * so a long chunk is embedded by its beginning rather than failing the document. `level`: the data
 * classification the gateway holds the inputs to (a knowledge base's level; absent: the default level).
 */
export async function embedTexts(deps: EmbedDeps, userId: string, model: string, inputs: string[], signal?: AbortSignal, level?: Level): Promise<Float32Array[]> {
  let texts = inputs;
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${deps.gatewayUrl.replace(/\/$/, '')}/v1/embeddings`, {
      method: 'POST',
      signal,
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${internalToken(deps.masterKey)}`,
        'x-enclave-user-id': userId,
        // A knowledge base's passages are held to its level: a deployment that may not receive it refuses them.
        ...(level !== undefined ? { 'x-enclave-classification': String(level) } : {}),
      },
      body: JSON.stringify({ model, input: texts }),
    }).catch((e: unknown) => {
      if (signal?.aborted) throw e;
      throw new DomainError('BAD_GATEWAY', 'The gateway could not be reached');
    });
    if (res.ok) {
      const body = (await res.json()) as { data?: { index: number; embedding: number[] }[] };
      const out: Float32Array[] = new Array(texts.length);
      for (const d of body.data ?? []) out[d.index] = Float32Array.from(d.embedding);
      if (out.some((v) => !v) || out.length !== texts.length) throw new DomainError('BAD_GATEWAY', 'The embedding deployment answered without a vector for every input');
      return out;
    }
    let message = `The gateway answered ${res.status}`;
    try {
      const body = (await res.json()) as { error?: { message?: string } };
      if (body.error?.message) message = body.error.message;
    } catch {
      // Not JSON: keep the status.
    }
    const limit = res.status === 400 ? /at most (\d+) tokens per input/.exec(message) : null;
    if (limit && attempt < 4) {
      // Characters per token vary by tokenizer: start at 2 per token and halve on each refusal.
      const chars = Math.max(16, Math.floor((Number(limit[1]) * 2) / 2 ** attempt));
      texts = texts.map((t) => t.slice(0, chars));
      continue;
    }
    throw new DomainError(codeForStatus(res.status), `Embedding with '${model}' failed: ${message}`, res.status);
  }
}
