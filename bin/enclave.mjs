#!/usr/bin/env node
// The `enclave` command. TypeScript runs through tsx's loader: there is no separate build of server code.
import { register } from 'tsx/esm/api';

// A private install never reports usage anywhere.
process.env.NEXT_TELEMETRY_DISABLED = '1';
register();
await import('./cli.ts');
