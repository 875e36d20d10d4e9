import { doctorExitCode, formatDoctor, runDoctor } from '../server/operations/doctor';
import { options } from './args';

/**
 * `enclave doctor [--json]`: checks this installation as `start` would find it (Node, configuration, data
 * directory and disk, PostgreSQL, Redis, master key, TLS files, artifact store, GPUs, vLLM) and says what to
 * fix. Exit 1 when a check failed. Read-only, and safe while Enclave runs.
 */
export async function doctorCommand(args: string[]): Promise<number> {
  const { values } = options(args, [], ['json']);
  const results = await runDoctor(process.env);
  process.stdout.write(values.json ? JSON.stringify({ ok: doctorExitCode(results) === 0, checks: results }, null, 2) + '\n' : formatDoctor(results));
  return doctorExitCode(results);
}
