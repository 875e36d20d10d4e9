#!/usr/bin/env bash
# Builds Enclave's image from deploy/image/Containerfile with buildah, pulling from no container registry:
# the Node and npm tarballs come from the npm registry (pinned by sha512 in deploy/image/downloads.sha512)
# and, unless ENCLAVE_BASE_IMAGE names one (debian:bookworm-slim for most users), the Debian base is built
# here with mmdebstrap from Debian's archive and cached, so a second build does not redo it.
#
# Settings: ENCLAVE_IMAGE (tag, default localhost/enclave:latest), ENCLAVE_BASE_IMAGE, ENCLAVE_IMAGE_CACHE
# (where the base root file system is cached), ENCLAVE_IMAGE_OUT (outputs: SBOM, image id; default dist/image).
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE=${ENCLAVE_IMAGE:-localhost/enclave:latest}
OUT=${ENCLAVE_IMAGE_OUT:-dist/image}
CACHE=${ENCLAVE_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/enclave-image}
DOWNLOADS=deploy/image/downloads
mkdir -p "$OUT" "$CACHE" "$DOWNLOADS"
[ -f "$OUT/.gitignore" ] || printf '# image:build outputs, never committed\n*\n' > "$OUT/.gitignore"
started=$(date +%s)
step() { echo "== image: $1 ($(( $(date +%s) - started )) s)"; }

for tool in buildah podman; do
  command -v "$tool" >/dev/null || { echo "image:build needs $tool (Debian: apt-get install -y podman buildah uidmap mmdebstrap)" >&2; exit 1; }
done

step "pinned tarballs"
# Only the files the checksum list names: a stale version left in the folder would otherwise reach the image.
for f in "$DOWNLOADS"/*.tgz; do
  [ -e "$f" ] || continue
  grep -q "  $(basename "$f")\$" deploy/image/downloads.sha512 || rm -f "$f"
done
while read -r sum file; do
  [ -n "$file" ] || continue
  if [ -f "$DOWNLOADS/$file" ] && echo "$sum  $DOWNLOADS/$file" | sha512sum --status -c; then continue; fi
  rm -f "$DOWNLOADS/$file"
  [[ $file =~ ^(.+)-([0-9]+\.[0-9]+\.[0-9]+)\.tgz$ ]] || { echo "unexpected file name in downloads.sha512: $file" >&2; exit 1; }
  npm pack --silent "${BASH_REMATCH[1]}@${BASH_REMATCH[2]}" --pack-destination "$DOWNLOADS" >/dev/null
  echo "$sum  $DOWNLOADS/$file" | sha512sum --quiet -c || { echo "$file does not match its pinned sha512" >&2; exit 1; }
done < deploy/image/downloads.sha512

if [ -n "${ENCLAVE_BASE_IMAGE:-}" ]; then
  BASE=$ENCLAVE_BASE_IMAGE
else
  step "Debian base"
  # Shaped like debian:bookworm-slim: minbase, merged /usr set up by mmdebstrap's hook (so no usrmerge and the
  # full Perl it pulls in), no recommends, no docs/man pages/translations (copyrights kept), with
  # bookworm-updates and the security archive so the base carries the current fixes.
  MMDEBSTRAP_ARGS=(
    --variant=minbase --mode=root --format=tar --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
    --aptopt='APT::Install-Recommends "false"'
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*'
    bookworm
  )
  MIRRORS=(
    "deb http://deb.debian.org/debian bookworm main"
    "deb http://deb.debian.org/debian bookworm-updates main"
    "deb http://deb.debian.org/debian-security bookworm-security main"
  )
  key=$(printf '%s\n' "${MMDEBSTRAP_ARGS[@]}" "${MIRRORS[@]}" | sha256sum | cut -c1-12)
  BASE=localhost/enclave-base:bookworm-$key
  if ! podman image exists "$BASE"; then
    tarball="$CACHE/debian-bookworm-$key.tar"
    if [ ! -f "$tarball" ]; then
      command -v mmdebstrap >/dev/null || { echo "image:build needs mmdebstrap (or ENCLAVE_BASE_IMAGE=debian:bookworm-slim)" >&2; exit 1; }
      mmdebstrap --quiet "${MMDEBSTRAP_ARGS[@]}" "$tarball.partial" "${MIRRORS[@]}" > "$CACHE/mmdebstrap.log" 2>&1 \
        || { tail -n 30 "$CACHE/mmdebstrap.log" >&2; rm -f "$tarball.partial"; exit 1; }
      mv "$tarball.partial" "$tarball"
    fi
    podman import --quiet --change 'CMD ["/bin/bash"]' "$tarball" "$BASE" >/dev/null
  fi
fi

step "build on $BASE"
VERSION=$(node -p 'require("./package.json").version')
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
# The last commit's time, not now: two builds of one commit get the same labels.
CREATED=$(git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
# npm inside the build reaches the registry the way npm here does: same registry, same extra CA (a
# TLS-inspecting proxy's), the CA as a build secret so no layer keeps it.
NPM_REGISTRY=$(npm config get registry)
NPM_CA=$(npm config get cafile)
[ "$NPM_CA" != null ] && [ -f "$NPM_CA" ] || NPM_CA=${NODE_EXTRA_CA_CERTS:-}
secret=()
[ -n "$NPM_CA" ] && [ -f "$NPM_CA" ] && secret=(--secret "id=npm_ca,src=$NPM_CA")
# HEALTHCHECK is kept only in the docker image format (OCI's config has no field for it).
# npm ci from a warm cache mount opens thousands of cache files at once: a RUN step's default of 1024
# open files ended it with EMFILE.
buildah build --quiet --isolation chroot --format docker --layers --force-rm "${secret[@]}" --ulimit nofile=16384:16384 \
  -f deploy/image/Containerfile \
  --build-arg BASE_IMAGE="$BASE" --build-arg NPM_REGISTRY="$NPM_REGISTRY" \
  --build-arg VERSION="$VERSION" --build-arg REVISION="$REVISION" --build-arg CREATED="$CREATED" \
  --iidfile "$OUT/image-id" -t "$IMAGE" . >/dev/null

step "outputs"
# The SBOM shipped in the image, also kept beside the build outputs (a scanner reads it without the image).
mnt=$(podman image mount "$IMAGE")
trap 'podman image unmount "$IMAGE" >/dev/null 2>&1 || true' EXIT
cp "$mnt/usr/share/enclave/sbom.cdx.json" "$OUT/sbom.cdx.json"
podman image unmount "$IMAGE" >/dev/null
trap - EXIT
echo "$IMAGE" > "$OUT/image-name"
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "image: $IMAGE $(cut -c1-19 "$OUT/image-id") $((size / 1000000)) MB, built in $(( $(date +%s) - started )) s; SBOM: $OUT/sbom.cdx.json"
