// Worker threads do not inherit tsx's loader: register it here, then load the TypeScript shard.
const { register } = await import('tsx/esm/api');
register();
await import('./shard.ts');
