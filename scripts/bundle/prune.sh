# Sourced by build.sh: removes from the staged production node_modules what an install never loads.
# Sizes are what each took in node_modules on the 0.1.0 bundle (1286 MB installed, 447 MB shipped). The image
# (deploy/image/assemble.sh) prunes the same way, except that it also drops the embedded PostgreSQL, which the
# bundle keeps: an air-gapped host may have no PostgreSQL to point DATABASE_URL at. The browser test
# (e2e/bundle.e2e.ts) runs the pruned install with no network, so a removal that mattered fails it.
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
  rm -rf "$nm"/@next/swc-*
  # TypeScript: a peer of tRPC's types; tsx strips types without it (23 MB). Command links: npm scripts' only.
  rm -rf "$nm/typescript" "$nm/.bin"
  # Source maps, type declarations and prose; licence and notice files stay.
  find "$nm" -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.tsbuildinfo' \
    -o \( -iname '*.md' ! -iname 'licen[cs]e*' ! -iname 'notice*' \) \) -delete
}
