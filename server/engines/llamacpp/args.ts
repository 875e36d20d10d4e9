import { parseArgs } from 'node:util';

export type EngineArgs = {
  model: string;
  name: string;
  port: number;
  host: string;
  threads: number;
  context: number;
  sequences: number;
};

function integer(flag: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`--${flag} must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return value;
}

/** Parses the engine's command line; throws an Error naming the bad flag. */
export function parseEngineArgs(argv: string[]): EngineArgs {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      model: { type: 'string' },
      name: { type: 'string' },
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      threads: { type: 'string', default: '1' },
      context: { type: 'string', default: '2048' },
      sequences: { type: 'string', default: '4' },
    },
  });
  if (!values.model) throw new Error('--model PATH is required');
  if (!values.name) throw new Error('--name NAME is required');
  return {
    model: values.model,
    name: values.name,
    port: integer('port', values.port!, 0, 65535),
    host: values.host!,
    threads: integer('threads', values.threads!, 1, 256),
    context: integer('context', values.context!, 64, 1 << 20),
    sequences: integer('sequences', values.sequences!, 1, 256),
  };
}
