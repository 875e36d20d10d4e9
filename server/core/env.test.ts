import { expect, test } from 'vitest';
import { ConfigError, parseEnv } from './env';

test('defaults fill an empty environment', () => {
  const env = parseEnv({});
  expect(env.PORT).toBe(3000);
  expect(env.REDIS_URL).toBe('redis://127.0.0.1:6379');
  expect(env.dataDir).toMatch(/\.data$/);
  expect(env.ENCLAVE_LLAMACPP_THREADS).toBe(1);
});

test('a bad value names the variable', () => {
  expect(() => parseEnv({ PORT: 'eighty' })).toThrow(ConfigError);
  expect(() => parseEnv({ PORT: 'eighty' })).toThrow(/PORT/);
  expect(() => parseEnv({ DATABASE_URL: 'not a url', GATEWAY_FIRST_TOKEN_TIMEOUT_MS: '-5' })).toThrow(/DATABASE_URL[\s\S]*GATEWAY_FIRST_TOKEN_TIMEOUT_MS/);
  expect(() => parseEnv({ ENCLAVE_SECURE_COOKIES: 'maybe' })).toThrow(/ENCLAVE_SECURE_COOKIES/);
});

test('empty strings mean unset', () => {
  expect(parseEnv({ DATABASE_URL: '', PORT: '' }).DATABASE_URL).toBeUndefined();
});
