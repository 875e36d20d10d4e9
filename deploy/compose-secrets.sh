#!/bin/sh
# Creates the secret files compose.yaml reads, in deploy/secrets/ (or the folder given): the master key,
# the database password (for PostgreSQL, and as a pgpass file for Enclave) and vLLM's API key. Each is mode
# 0600 and owned by the user of the service that reads it (Compose mounts them as they are), hence sudo.
# It never overwrites: a new master key would make everything sealed with the old one unreadable.
set -eu
dir="${1:-$(dirname "$0")/secrets}"
ENCLAVE_UID="${ENCLAVE_UID:-10001}"   # deploy/image/Containerfile's user
POSTGRES_UID="${POSTGRES_UID:-999}"   # the Debian postgres image's user
VLLM_UID="${VLLM_UID:-10002}"         # compose.yaml's user for vllm

for f in master.key postgres_password enclave.pgpass vllm_api_key; do
  if [ -e "$dir/$f" ]; then echo "compose-secrets: $dir/$f exists; nothing changed (move it away to make a new one)" >&2; exit 1; fi
done
hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
umask 077
mkdir -p "$dir"
hex 32 > "$dir/master.key"
password="$(hex 24)"
printf '%s\n' "$password" > "$dir/postgres_password"
# host:port:database:user:password for compose.yaml's DATABASE_URL; any database, since a restore drill
# connects to a scratch database of its own.
printf 'postgres:5432:*:enclave:%s\n' "$password" > "$dir/enclave.pgpass"
hex 32 > "$dir/vllm_api_key"
chmod 600 "$dir"/*
if [ "$(id -u)" = 0 ]; then
  chown "$ENCLAVE_UID:$ENCLAVE_UID" "$dir/master.key" "$dir/enclave.pgpass"
  chown "$POSTGRES_UID:$POSTGRES_UID" "$dir/postgres_password"
  chown "$VLLM_UID:$VLLM_UID" "$dir/vllm_api_key"
else
  echo "compose-secrets: not root, so the files are yours; give them to their readers before starting:" >&2
  echo "  sudo chown $ENCLAVE_UID $dir/master.key $dir/enclave.pgpass; sudo chown $POSTGRES_UID $dir/postgres_password; sudo chown $VLLM_UID $dir/vllm_api_key" >&2
fi
echo "compose-secrets: wrote $dir (keep a copy of master.key somewhere safe: without it nothing stored can be read)"
