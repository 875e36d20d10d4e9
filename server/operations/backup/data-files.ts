import fs from 'node:fs';
import path from 'node:path';

/**
 * What of the data directory a backup carries: datasets, job outputs (models, adapters), logs, audit
 * checkpoints. Left out: the master key (a backup must not carry the key that opens it), an agent's own
 * credential, the embedded PostgreSQL and Redis (the database is backed up logically), scratch space, and
 * the backups themselves when they are kept inside.
 */
const LEFT_OUT = new Set(['master.key', 'master.key.next', 'agent-credential.json', 'postgres', 'postgres.json', 'redis', 'tmp']);

export interface DataFile {
  /** Relative, with forward slashes. */
  rel: string;
  abs: string;
  mode: number;
}

export function listDataFiles(dataDir: string, alsoLeaveOut: string[] = []): DataFile[] {
  const excluded = alsoLeaveOut.map((p) => path.resolve(p));
  const out: DataFile[] = [];
  const walk = (dir: string, rel: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const abs = path.join(dir, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if ((!rel && LEFT_OUT.has(e.name)) || excluded.some((x) => abs === x || abs.startsWith(x + path.sep))) continue;
      // Symbolic links and sockets are not data: a link could point anywhere, a socket is a live process's.
      if (e.isDirectory()) walk(abs, r);
      else if (e.isFile()) out.push({ rel: r, abs, mode: fs.statSync(abs).mode & 0o777 });
    }
  };
  walk(path.resolve(dataDir), '');
  return out;
}

/** What may already be in a data directory a backup is restored into: the services' own state and the key. */
export function dataDirLeftovers(dataDir: string, alsoAllowed: string[] = []): string[] {
  return listDataFiles(dataDir, alsoAllowed).map((f) => f.rel);
}
