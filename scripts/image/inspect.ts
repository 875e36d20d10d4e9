import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** What `podman image inspect` says about the image (the parts the checks read). */
export interface ImageConfig {
  id: string;
  size: number;
  user: string;
  env: Record<string, string>;
  entrypoint: string[];
  cmd: string[];
  workingDir: string;
  labels: Record<string, string>;
  healthcheck: string[] | undefined;
}

export function inspectImage(image: string): ImageConfig {
  const [raw] = JSON.parse(execFileSync('podman', ['image', 'inspect', image], { encoding: 'utf8' })) as Array<Record<string, any>>;
  if (!raw) throw new Error(`podman found no image ${image}`);
  const config = raw.Config ?? {};
  const env = Object.fromEntries((config.Env ?? []).map((kv: string) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  return {
    id: raw.Id,
    size: raw.Size,
    user: config.User ?? '',
    env,
    entrypoint: config.Entrypoint ?? [],
    cmd: config.Cmd ?? [],
    workingDir: config.WorkingDir ?? '/',
    labels: raw.Labels ?? config.Labels ?? {},
    healthcheck: raw.Healthcheck?.Test ?? config.Healthcheck?.Test,
  };
}

/** Executables that would let code in the container build or install software. */
const FORBIDDEN = new Set([
  'gcc', 'cc', 'c++', 'g++', 'cpp', 'clang', 'clang++', 'tcc', 'ld', 'as', 'make', 'cmake', 'ninja',
  'npm', 'npx', 'corepack', 'yarn', 'pnpm', 'node-gyp', 'npm-cli.js',
  'apt', 'apt-get', 'aptitude', 'dpkg', 'rpm', 'pip', 'pip3',
]);

export interface FileSystemFindings {
  setuid: string[];
  forbidden: string[];
  /** Paths the app's user could write outside the places meant for it. */
  writable: string[];
  files: number;
}

/** Walks the mounted image once: setuid/setgid files, build and install tools, files its user could change. */
export function scanFileSystem(root: string, appUid: number, appGid: number, writableOk: string[]): FileSystemFindings {
  const findings: FileSystemFindings = { setuid: [], forbidden: [], writable: [], files: 0 };
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const inImage = '/' + path.relative(root, full);
      if (['/proc', '/sys', '/dev'].includes(inImage)) continue;
      const st = fs.lstatSync(full);
      findings.files++;
      if (!entry.isSymbolicLink() && (st.mode & 0o6000) !== 0) findings.setuid.push(inImage); // setgid directories too
      // Programs only: an executable file or a link by that name (dpkg's cron job is gone too, but a file named
      // after a tool is not the tool).
      const program = entry.isSymbolicLink() || (entry.isFile() && (st.mode & 0o111) !== 0);
      if (program && FORBIDDEN.has(entry.name)) findings.forbidden.push(inImage);
      if (entry.isDirectory() && inImage === '/usr/lib/node_modules') findings.forbidden.push(inImage);
      const mayWrite = !entry.isSymbolicLink() && (st.uid === appUid || (st.gid === appGid && (st.mode & 0o020) !== 0) || (st.mode & 0o002) !== 0);
      if (mayWrite && !writableOk.some((ok) => inImage === ok || inImage.startsWith(ok + '/'))) findings.writable.push(inImage);
      if (entry.isDirectory()) walk(full);
    }
  };
  walk(root);
  return findings;
}

export function duBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    total += entry.isDirectory() ? duBytes(full) : fs.lstatSync(full).size;
  }
  return total;
}
