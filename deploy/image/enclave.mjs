#!/usr/bin/env node
// The image's `enclave` command (/usr/local/bin/enclave links here): bin/enclave.mjs with the configuration of
// the UI build handed to Next.js. The image carries the traced subset of `next` that Next's standalone output
// makes, and that subset cannot load next.config itself; Next's own standalone server.js passes the build's
// resolved configuration the same way (through __NEXT_PRIVATE_STANDALONE_CONFIG).
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');
const { config } = JSON.parse(fs.readFileSync(path.join(root, '.next', 'required-server-files.json'), 'utf8'));
process.env.__NEXT_PRIVATE_STANDALONE_CONFIG ??= JSON.stringify(config);
await import(path.join(root, 'bin', 'enclave.mjs'));
