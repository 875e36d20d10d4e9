#!/bin/sh
# Installs this Enclave bundle: checks every file against SHA256SUMS, copies the bundle to
# PREFIX/lib/enclave-VERSION, points PREFIX/lib/enclave at it, and writes PREFIX/bin/enclave (runs the
# bundled Node) and, on a first install, PREFIX/etc/enclave.env. Nothing is downloaded.
#   ./install.sh [--prefix DIR]   (default /opt/enclave)
set -eu

prefix=/opt/enclave
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a directory" >&2; exit 2; }; prefix=$2; shift ;;
    --prefix=*) prefix=${1#--prefix=} ;;
    -h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1 (usage: ./install.sh [--prefix DIR])" >&2; exit 2 ;;
  esac
  shift
done
case "$prefix" in /*) ;; *) prefix=$(pwd)/$prefix ;; esac

here=$(cd "$(dirname "$0")" && pwd)
version=$(cat "$here/VERSION")
fail() { echo "install.sh: $*" >&2; exit 1; }

[ "$(uname -s)" = Linux ] && [ "$(uname -m)" = x86_64 ] || fail "this bundle is for Linux x86_64; this machine is $(uname -s) $(uname -m)"
command -v sha256sum >/dev/null || fail "sha256sum (coreutils) is needed to verify the bundle"

echo "Verifying $(wc -l <"$here/SHA256SUMS") files against SHA256SUMS..."
(cd "$here" && sha256sum --quiet --strict -c SHA256SUMS) || fail "the bundle is damaged or was altered: the files above do not match SHA256SUMS. Copy the tarball again and compare its .sha256."
# The bundled Node must run here (it needs glibc 2.28 or later).
node_version=$("$here/node/bin/node" -v 2>&1) || fail "the bundled Node does not run on this machine: $node_version"

lib="$prefix/lib"
dest="$lib/enclave-$version"
[ -e "$dest" ] && fail "$dest exists: Enclave $version is installed already (remove that directory to reinstall)"
mkdir -p "$lib" "$prefix/bin" "$prefix/etc"
# Copied under a temporary name and renamed, so an interrupted install never looks installed.
rm -rf "$dest.partial"
cp -a "$here/." "$dest.partial"
mv "$dest.partial" "$dest"
ln -sfn "enclave-$version" "$lib/enclave"

# "|" cannot be in the prefix for this substitution; a path with one is refused.
case "$prefix" in *'|'*) fail "the prefix may not contain |" ;; esac
sed "s|@PREFIX@|$prefix|g" "$here/enclave-wrapper.sh" >"$prefix/bin/enclave"
chmod 755 "$prefix/bin/enclave"

if [ ! -e "$prefix/etc/enclave.env" ]; then
  cat >"$prefix/etc/enclave.env" <<EOF
# Enclave's settings (see README.md in $lib/enclave). The environment wins over this file.
# Without DATABASE_URL Enclave runs its own PostgreSQL under the data directory; without REDIS_URL
# it uses a Redis on 127.0.0.1:6379 or starts the host's redis-server there.
ENCLAVE_DATA_DIR=$prefix/data
# The demo model ships with the bundle; point this at your own models' directory.
ENCLAVE_MODELS_DIR=$lib/enclave/models
# ENCLAVE_ADMIN_EMAIL=admin@example.org
# DATABASE_URL=postgres://enclave:secret@db.internal:5432/enclave
# REDIS_URL=redis://redis.internal:6379
# HOST=0.0.0.0
# PORT=3000
EOF
  chmod 600 "$prefix/etc/enclave.env"
fi

redis_note=""
command -v redis-server >/dev/null 2>&1 || redis_note="
  Redis: set REDIS_URL in $prefix/etc/enclave.env, or install the OS package redis-server."
doctor_note=""
grep -q "'doctor'" "$dest/bin/commands.ts" 2>/dev/null && doctor_note="  3. Check the host:  $prefix/bin/enclave doctor
"
cat <<EOF

Enclave $version is installed in $dest (Node $node_version bundled).
Next steps:
  1. Review $prefix/etc/enclave.env (data directory, models, database, Redis).$redis_note
  2. Start it:        $prefix/bin/enclave start
     The first start prints the admin's e-mail and one-time password; open http://<this host>:3000.
${doctor_note}The SBOM is $dest/sbom.cdx.json; licences of every dependency: $dest/THIRD-PARTY-LICENSES.md.
EOF
