import { spawn } from 'node:child_process';
import { commandWords } from '../core/command-words';

const MAX_OUTPUT_BYTES = 64 * 1024;
const NAME = 'ENCLAVE_MASTER_KEY_COMMAND';

/**
 * Runs ENCLAVE_MASTER_KEY_COMMAND once, without a shell, and returns what it printed. Errors name the
 * variable and the way it failed, never the command line (it may carry a token) nor what the command
 * wrote (it may hold the key, or half of it): the operator runs it by hand to see why.
 */
export function runMasterKeyCommand(command: string, timeoutMs: number): Promise<string> {
  let words: string[];
  try {
    words = commandWords(command, 'ENCLAVE_MASTER_KEY_COMMAND');
  } catch {
    return Promise.reject(new Error(`${NAME} must be words separated by spaces, or a JSON array of strings`));
  }
  if (!words.length) return Promise.reject(new Error(`${NAME} is empty`));
  const [file, ...args] = words as [string, ...string[]];
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout also ends whatever it started (a helper holding stdout open).
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: process.platform !== 'win32' });
    const chunks: Buffer[] = [];
    let bytes = 0;
    let failure: string | undefined;
    const fail = (why: string) => {
      failure ??= why;
      killGroup(child.pid);
    };
    const timer = setTimeout(() => fail(`did not finish within ${timeoutMs} ms (ENCLAVE_MASTER_KEY_COMMAND_TIMEOUT_MS)`), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > MAX_OUTPUT_BYTES) fail(`printed more than ${MAX_OUTPUT_BYTES} bytes, not a key`);
      else chunks.push(chunk);
    });
    // Drained so the command cannot block on a full pipe; never kept, since it may echo secrets.
    child.stderr.resume();
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(`${NAME} could not be run (${e.code ?? 'error'}): check that its program exists and is executable`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (failure) return reject(new Error(`${NAME} ${failure}; the start stops here`));
      if (code !== 0) {
        const how = signal ? `was killed by ${signal}` : `failed with exit code ${code}`;
        return reject(new Error(`${NAME} ${how}; its output is not shown, since it may hold secrets: run it by hand to see why`));
      }
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

function killGroup(pid: number | undefined) {
  if (pid === undefined) return;
  try {
    process.kill(process.platform === 'win32' ? pid : -pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
