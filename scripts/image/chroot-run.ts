import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Runs a command inside a mounted image's file system the way a container would run it, without a container
 * runtime (this machine's refuses): private mount and PID namespaces (the command is PID 1, everything in it
 * dies with it, and the mounts vanish with the namespace, even when this process is killed), the image's root
 * bind-mounted read-only, fresh /proc, a tmpfs /tmp, the host's /dev, the data directory bound in writable,
 * the host's network (loopback PostgreSQL and Redis), and the image's user. `setpriv --pdeathsig` ties the
 * namespace's life to this process.
 */
export interface ChrootSpec {
  /** The image's files (podman image mount). */
  imageRoot: string;
  /** Host directory mounted at `dataMount`, owned by the image's user. */
  dataDir: string;
  dataMount: string;
  /** "uid:gid", numeric, as the image's USER. */
  user: string;
  cwd: string;
  env: Record<string, string>;
  argv: string[];
}

const SETUP = `
set -eu
image=$1 root=$2 data=$3 mountpoint=$4 user=$5 cwd=$6; shift 6
mount --bind "$image" "$root"
mount -o remount,bind,ro "$root"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=1777,size=512m tmpfs "$root/tmp"
mount --bind "$data" "$root$mountpoint"
exec chroot --userspec="$user" --groups="\${user#*:}" "$root" /bin/sh -c 'cd "$0" && exec "$@"' "$cwd" "$@"
`;

export function runInImage(spec: ChrootSpec): { child: ChildProcess; done: Promise<number | null> } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-image-root-'));
  const child = spawn(
    'setpriv',
    ['--pdeathsig', 'KILL', '--', 'unshare', '--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child',
      'sh', '-c', SETUP, 'sh', spec.imageRoot, root, spec.dataDir, spec.dataMount, spec.user, spec.cwd, ...spec.argv],
    // Only the image's environment and what the caller adds: nothing of the host's leaks in. The image's PATH
    // also finds setpriv, unshare, mount and chroot on the host before the chroot.
    { env: spec.env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const done = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : null))));
  void done.then(() => fs.rmSync(root, { recursive: true, force: true }));
  return { child, done };
}

/** Runs to completion; resolves with the exit code and everything printed. */
export async function runToEnd(spec: ChrootSpec, timeoutMs = 60_000): Promise<{ code: number | null; out: string }> {
  const { child, done } = runInImage(spec);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await done;
  clearTimeout(timer);
  return { code, out };
}

/**
 * The namespace's PID 1 (what the image's ENTRYPOINT became), as a host pid: SIGTERM to it is what a
 * container stop sends. unshare is the spawned process's image after setpriv's exec; its one child is PID 1.
 */
export function namespaceInit(child: ChildProcess): number | undefined {
  try {
    const children = fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim();
    return children ? Number(children.split(/\s+/)[0]) : undefined;
  } catch {
    return undefined;
  }
}
