// Worker threads do not inherit the tsx loader that `enclave` registers through its API: register it here.
import { register } from 'tsx/esm/api';

register();
await import('./convert-worker.ts');
