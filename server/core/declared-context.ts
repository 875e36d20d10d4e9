// Read by the chat (layer 3) and the gateway: here, below both, rather than in server/engines beside the spec.
/**
 * The context (tokens, prompt and completion together) a stored spec declares for its model: vLLM's
 * max_model_len, or the built-in engine's context; undefined when the spec leaves it to the engine.
 */
export function declaredContextTokens(spec: Record<string, unknown> | null | undefined): number | undefined {
  const s = spec as { maxModelLen?: unknown; llamacpp?: { context?: unknown } } | null | undefined;
  const size = s?.maxModelLen ?? s?.llamacpp?.context;
  return typeof size === 'number' && Number.isInteger(size) && size > 0 ? size : undefined;
}
