import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { numberFlag, options, positiveInteger, readFlagFile, UsageError } from './args';

describe('command-line arguments', () => {
  it('refuses flags the command does not take, and values missing after a flag', () => {
    expect(options(['--name', 'ci', '--json'], ['name'], ['json']).values).toEqual({ name: 'ci', json: true });
    expect(() => options(['--nmae', 'ci'], ['name'])).toThrow(UsageError);
    expect(() => options(['--nmae', 'ci'], ['name'])).toThrow(/--nmae/);
    expect(() => options(['--name'], ['name'])).toThrow(/--name/);
  });

  it('reads numeric flags, naming the flag and what it must be when the value is not one', () => {
    expect(numberFlag(undefined, '--tp', 'a positive integer', positiveInteger)).toBeUndefined();
    expect(numberFlag('4', '--tp', 'a positive integer', positiveInteger)).toBe(4);
    expect(numberFlag('0.5', '--rate')).toBe(0.5);
    expect(() => numberFlag('2.5', '--tp', 'a positive integer', positiveInteger)).toThrow('--tp must be a positive integer, got "2.5"');
    expect(() => numberFlag('', '--seed')).toThrow('--seed must be a number, got ""');
    expect(() => numberFlag('ten', '--rate')).toThrow(UsageError);
  });

  it('names the flag of a file that cannot be read', () => {
    const missing = path.join(os.tmpdir(), 'enclave-no-such-capture.csv');
    expect(() => readFlagFile(missing, '--query')).toThrow(`--query ${missing}: no such file`);
  });
});
