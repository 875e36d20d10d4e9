#!/usr/bin/env node
// The `enclave` command. TypeScript runs through tsx's loader: there is no separate build of server code.
import { register } from 'tsx/esm/api';

register();
await import('./cli.ts');
