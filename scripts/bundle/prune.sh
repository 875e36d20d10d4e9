# Sourced by build.sh: removes from the staged production node_modules what an install never loads.
# Each entry says why, with what it took in node_modules (measured on the 0.1.0 bundle). The browser
# test (e2e/bundle.e2e.ts) runs the pruned install with no network, so a removal that mattered fails it.
prune_node_modules() {
  local nm="$1"
  # node-llama-cpp's GPU builds: Enclave loads llama.cpp with gpu: false everywhere (server/engines/llamacpp,
  # the quantizer's perplexity gate, the tokenizer); GPU serving is vLLM's, SGLang's or TGI's job.
  # linux-x64-cuda 181 MB, linux-x64-cuda-ext 357 MB, linux-x64-vulkan 81 MB.
  rm -rf "$nm/@node-llama-cpp/linux-x64-cuda" "$nm/@node-llama-cpp/linux-x64-cuda-ext" "$nm/@node-llama-cpp/linux-x64-vulkan"
  # ARM builds npm installs on x64 anyway (19 + 13 MB).
  rm -rf "$nm/@node-llama-cpp/linux-arm64" "$nm/@node-llama-cpp/linux-armv7l"
  # llama.cpp's source as a git bundle, for building from source; Enclave asks for build: 'never' (34 MB).
  rm -f "$nm/node-llama-cpp/llama/gitRelease.bundle"
  # sharp (Next's image optimizer): next.config.mjs sets images.unoptimized, so it is never loaded (19 MB).
  rm -rf "$nm/@img" "$nm/sharp"
  # Next's SWC compiler: used by `next build` and the dev server; `enclave start` serves a finished build (97 MB).
  rm -rf "$nm/@next/swc-linux-x64-gnu" "$nm/@next/swc-linux-x64-musl"
}
