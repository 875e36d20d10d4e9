const MiB = 1024 ** 2;
export const GiB = 1024 ** 3;

/** Bytes per element of each unquantized dtype. */
export const DTYPE_BYTES: Record<string, number> = { float32: 4, float16: 2, bfloat16: 2, half: 2 };

/** vLLM allocates the KV cache in blocks of 16 tokens: a sequence always holds whole blocks. */
export const KV_BLOCK_TOKENS = 16;

/** vLLM pads the vocabulary to a multiple of 64 before splitting embeddings and lm_head across TP ranks. */
export const VOCAB_PADDING = 64;

/**
 * vLLM's profile run pushes one batch of `max_num_batched_tokens` through the model and measures the
 * PyTorch peak. Its live tensors are the hidden states, the fused gate/up output and a few temporaries:
 * about tokens x (hidden + 2 x intermediate / TP) elements, ACTIVATION_FACTOR times over. Published logs
 * put the peak for 7-8B models between 0.2 and 2 GiB ("PyTorch activation peak memory takes 1.19GiB"
 * for Llama-3.1-8B on an H100); a factor of 4 lands an 8B model at 8192 tokens near 2 GiB, the upper end.
 */
export const ACTIVATION_FACTOR = 4;

/** The sampler's logits for the profile run's sequences are float32: max_num_seqs x vocab x 4 bytes. */
export const DEFAULT_MAX_NUM_SEQS = 256;

/** vLLM's default chunk of prefill tokens per step when none is configured (and the floor it uses). */
export const DEFAULT_MAX_NUM_BATCHED_TOKENS = 8192;
export const MIN_MAX_NUM_BATCHED_TOKENS = 2048;

/** vLLM warns "CUDA graphs can take additional 1~3 GiB"; V1's piecewise graphs take well under 1 GiB in practice. */
export const CUDA_GRAPH_BYTES = 1 * GiB;

/**
 * Memory outside PyTorch's allocator: the CUDA context, cuBLAS and NCCL workspaces. vLLM logs
 * "non_torch_memory takes 0.01-0.20GiB" on top of a CUDA context of about 300-500 MiB.
 */
export const NON_TORCH_OVERHEAD_BYTES = 512 * MiB;
/** NCCL buffers per GPU when ranks talk to each other (TP or PP above 1). */
export const COLLECTIVES_OVERHEAD_BYTES = 256 * MiB;
