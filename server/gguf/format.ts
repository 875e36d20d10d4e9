/** GGUF and ggml constants (ggml's gguf.h and ggml.h), shared by the reader, the writer and the converter. */

/** Bad input: the message names the file and what is wrong with it. */
export class GgufError extends Error {}

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const DEFAULT_ALIGNMENT = 32;

// Metadata value types.
export const ValueType = {
  UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6,
  BOOL: 7, STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12,
} as const;
export const VALUE_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

export const GGML_F32 = 0;
export const GGML_F16 = 1;
export const GGML_Q8_0 = 8;
export const QK8_0 = 32;
export const Q8_0_BLOCK_BYTES = 34; // fp16 scale + 32 int8

/**
 * ggml tensor types: [name, values per block, bytes per block]. Kept tensors are copied byte for byte, but
 * their size still has to be known to find them, so an unknown type is refused rather than guessed.
 */
export const GGML_TYPES: Record<number, [string, number, number]> = {
  0: ['F32', 1, 4], 1: ['F16', 1, 2], 2: ['Q4_0', 32, 18], 3: ['Q4_1', 32, 20], 6: ['Q5_0', 32, 22],
  7: ['Q5_1', 32, 24], 8: ['Q8_0', 32, 34], 9: ['Q8_1', 32, 36], 10: ['Q2_K', 256, 84], 11: ['Q3_K', 256, 110],
  12: ['Q4_K', 256, 144], 13: ['Q5_K', 256, 176], 14: ['Q6_K', 256, 210], 15: ['Q8_K', 256, 292],
  16: ['IQ2_XXS', 256, 66], 17: ['IQ2_XS', 256, 74], 18: ['IQ3_XXS', 256, 98], 19: ['IQ1_S', 256, 50],
  20: ['IQ4_NL', 32, 18], 21: ['IQ3_S', 256, 110], 22: ['IQ2_S', 256, 82], 23: ['IQ4_XS', 256, 136],
  24: ['I8', 1, 1], 25: ['I16', 1, 2], 26: ['I32', 1, 4], 27: ['I64', 1, 8], 28: ['F64', 1, 8],
  29: ['IQ1_M', 256, 56], 30: ['BF16', 1, 2], 34: ['TQ1_0', 256, 54], 35: ['TQ2_0', 256, 66], 39: ['MXFP4', 32, 17],
};

export function typeName(type: number): string {
  return GGML_TYPES[type]?.[0] ?? `type ${type}`;
}

/** Bytes a tensor of `elements` values takes in `type`, or null when that is not a whole number of blocks. */
export function tensorBytes(type: number, ne: number[]): number | null {
  const info = GGML_TYPES[type];
  if (!info) return null;
  const [, block, bytes] = info;
  if (ne[0]! % block !== 0) return null; // blocks run along rows: a partial block cannot be stored
  return (ne.reduce((a, b) => a * b, 1) / block) * bytes;
}

export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

// llama.cpp's llama_ftype values for general.file_type.
export const FILE_TYPE = { f16: 1, q8_0: 7 } as const;
export const QUANTIZATION_VERSION = 2;
