/** The environment that pins a GPU engine to its placed GPUs. */
export function placedGpuEnv(gpuIndices: number[]): Record<string, string> {
  return {
    CUDA_VISIBLE_DEVICES: gpuIndices.join(','),
    // Placement picks GPUs by nvidia-smi's index; CUDA's default order (fastest first) can differ from it.
    CUDA_DEVICE_ORDER: 'PCI_BUS_ID',
  };
}
