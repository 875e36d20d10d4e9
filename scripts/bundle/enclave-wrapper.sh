#!/bin/sh
# The enclave command of the install at @PREFIX@ (written by install.sh): the bundled Node runs the
# installed version. Settings come from the environment first, then from @PREFIX@/etc/enclave.env.
app="@PREFIX@/lib/enclave"
env_file="@PREFIX@/etc/enclave.env"
if [ -r "$env_file" ]; then
  # KEY=VALUE lines, taken literally (no shell expansion); a key already in the environment is kept.
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in '' | '#'*) continue ;; *=*) ;; *) continue ;; esac
    key=${line%%=*}
    case "$key" in '' | *[!A-Za-z0-9_]* | [0-9]*) echo "enclave: $env_file: ignored a line with the key '$key'" >&2; continue ;; esac
    eval "present=\${$key+yes}"
    [ -n "$present" ] || export "$key=${line#*=}"
  done <"$env_file"
fi
# Next.js and React take their production paths; an operator may still set NODE_ENV.
export NODE_ENV="${NODE_ENV:-production}"
exec "$app/node/bin/node" "$app/bin/enclave.mjs" "$@"
