import { DomainError } from '../../core/errors';

/**
 * A config.json, quantization_config or spec the estimator cannot account for. It is a BAD_REQUEST
 * DomainError so that wherever it escapes (a dry run, a deploy, a job estimate) the caller sees its
 * message, which names the field or architecture, instead of an internal error.
 */
export class EstimatorInputError extends DomainError {
  constructor(message: string) {
    super('BAD_REQUEST', message);
    this.name = 'EstimatorInputError';
  }
}

export type Config = Record<string, unknown>;

const shown = (value: unknown) => (value === undefined ? ' (it is missing)' : `, not ${JSON.stringify(value)}`);

export function positiveInt(config: Config, field: string, fallback?: number, where = 'config.json'): number {
  const value = config[field] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new EstimatorInputError(`${where}: ${field} must be a positive integer${shown(config[field])}`);
  }
  return value;
}

/** A count that may be 0 (first_k_dense_replace, n_shared_experts). */
export function countField(config: Config, field: string, fallback: number, where = 'config.json'): number {
  const value = config[field] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new EstimatorInputError(`${where}: ${field} must be a whole number${shown(config[field])}`);
  }
  return value;
}

/** A positive integer or null/absent (q_lora_rank is null on DeepSeek-V2-Lite). */
export function optionalPositiveInt(config: Config, field: string, where = 'config.json'): number | null {
  return config[field] == null ? null : positiveInt(config, field, undefined, where);
}

export function intList(config: Config, field: string, where = 'config.json'): number[] {
  const value = config[field] ?? [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'number' || !Number.isInteger(v) || v < 0)) {
    throw new EstimatorInputError(`${where}: ${field} must be a list of layer indices${shown(config[field])}`);
  }
  return value as number[];
}

export function stringList(config: Config, field: string, where: string): string[] {
  const value = config[field] ?? [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new EstimatorInputError(`${where}: ${field} must be a list of module names${shown(config[field])}`);
  }
  return value as string[];
}

export const isObject = (v: unknown): v is Config => typeof v === 'object' && v !== null && !Array.isArray(v);
