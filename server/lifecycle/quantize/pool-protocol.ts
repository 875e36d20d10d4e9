/** Slots of the Int32Array a converter thread and the main thread share (see convert-worker.ts). */
export const CONTROL = {
  // indexes
  STATE: 0, OP: 1, N: 2, OUT_BYTES: 3, LENGTH: 4,
  // states
  IDLE: 0, WORK: 1, DONE: 2, EXIT: 3, FAILED: 4, // FAILED is also written by convert-worker.mjs
} as const;
