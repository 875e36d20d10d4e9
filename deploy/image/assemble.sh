#!/bin/sh
# The runtime tree, from a build directory where `npm ci` ran and the UI was built with the standalone output
# (ENCLAVE_NEXT_STANDALONE=1). Run from that directory: sh deploy/image/assemble.sh OUT.
#
# Why not Next's standalone server.js: Enclave has its own web server (server/roles/web-server.ts calls
# next({ dev: false })) and server code run through tsx with dependencies Next never traces (pg, bullmq,
# node-llama-cpp...). So the runtime takes from the standalone output what it is good at, the traced subset of
# `next` (about 18 MB instead of 200) and the server part of .next, and uses production node_modules for the rest.
set -eu
out=$1
[ -f .next/standalone/node_modules/next/package.json ] || { echo "assemble: no .next/standalone (build with ENCLAVE_NEXT_STANDALONE=1)" >&2; exit 1; }
[ -f .next/enclave-source-hash ] || { echo "assemble: no .next/enclave-source-hash (build through ensureUiBuild)" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out/.next" "$out/deploy/image"

# The server code, run through tsx. app/, the lockfile, tsconfig and next.config stay whole: together they are
# the UI source hash (server/http/next-build.ts) that tells `enclave` the built UI is current.
cp -a bin server workers app trainers models package.json package-lock.json tsconfig.json next.config.mjs "$out/"
find "$out/bin" "$out/server" "$out/workers" -name '*.test.ts' -delete
cp -a deploy/image/enclave.mjs deploy/image/healthcheck.mjs "$out/deploy/image/"
cp -a .next/standalone/.next/. "$out/.next/"
cp -a .next/static "$out/.next/static"
cp -a .next/enclave-source-hash "$out/.next/"
[ ! -d public ] || cp -a public "$out/public"

# Production dependencies only.
npm prune --omit=dev --no-audit --no-fund >/dev/null
cp -a node_modules "$out/node_modules"
nm=$out/node_modules
rm -rf "$nm/next" && cp -a .next/standalone/node_modules/next "$nm/next"
# Not needed at run time: the compiler Next builds with; sharp (images are served unoptimized); TypeScript
# (a peer of tRPC's types); node-llama-cpp's CUDA, Vulkan and ARM builds (the built-in engine runs on the CPU,
# GPUs are vLLM's) and the llama.cpp sources it would compile from (it never builds: build: 'never');
# the embedded PostgreSQL (an image runs against the PostgreSQL it is given: DATABASE_URL); command links.
rm -rf "$nm"/@next/swc-* "$nm/@img" "$nm/sharp" "$nm/typescript" \
  "$nm/@node-llama-cpp/linux-arm64" "$nm/@node-llama-cpp/linux-armv7l" "$nm"/@node-llama-cpp/linux-x64-cuda* \
  "$nm/@node-llama-cpp/linux-x64-vulkan" "$nm/node-llama-cpp/llama/gitRelease.bundle" \
  "$nm/embedded-postgres" "$nm/@embedded-postgres" "$nm/.bin" "$nm/.cache"
# Source maps, type declarations and prose (licence and notice files stay).
find "$nm" -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.tsbuildinfo' \
  -o \( -iname '*.md' ! -iname 'licen[cs]e*' ! -iname 'notice*' \) \) -delete
# Root owns the tree and nobody may write to it: the app's user only reads its code.
chown -R 0:0 "$out"
chmod -R u+rwX,go+rX,go-w "$out"
chmod 0755 "$out/deploy/image/enclave.mjs"
