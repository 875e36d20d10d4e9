import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ArtifactError, type ArtifactBackend, type ArtifactObject } from './backend';
import { checkKey, checkPrefix } from './keys';

/** A partial file is written to with every chunk; one untouched this long was left by a process that died. */
const ABANDONED_AFTER_MS = 60 * 60 * 1000;

/**
 * Artifacts as files under one directory: the data directory by default (so what Enclave wrote there before
 * the store existed, `datasets/<id>.jsonl.enc`, is read in place), or a shared mount every role sees
 * (ENCLAVE_ARTIFACTS_DIR: NFS, CephFS, a cloud file share). A write goes to `<file>.<random>.partial` and is
 * synced and renamed into place: readers on other hosts see the whole file or none.
 */
export function dirBackend(root: string): ArtifactBackend {
  const base = path.resolve(root);
  const fileOf = (key: string) => path.join(base, ...checkKey(key).split('/'));

  async function removeAbandonedPartials(dir: string): Promise<void> {
    const names = await fsp.readdir(dir).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.endsWith('.partial'))) {
      const file = path.join(dir, name);
      const stat = await fsp.stat(file).catch(() => null);
      if (stat && Date.now() - stat.mtimeMs > ABANDONED_AFTER_MS) await fsp.rm(file, { force: true });
    }
  }

  return {
    kind: 'dir',
    where: base,
    async write(key, body) {
      const file = fileOf(key);
      await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      await removeAbandonedPartials(path.dirname(file));
      const partial = `${file}.${randomBytes(6).toString('hex')}.partial`;
      const handle = await fsp.open(partial, 'wx', 0o600);
      let bytes = 0;
      try {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          await handle.write(chunk);
          bytes += chunk.length;
        }
        await handle.sync();
        await handle.close();
        await fsp.rename(partial, file);
        return { bytes };
      } catch (e) {
        await handle.close().catch(() => undefined);
        await fsp.rm(partial, { force: true });
        throw e;
      }
    },
    async read(key, range) {
      const file = fileOf(key);
      const handle = await fsp.open(file, 'r').catch((e: NodeJS.ErrnoException) => {
        throw e.code === 'ENOENT' ? new ArtifactError('NOT_FOUND', `Artifact ${key} does not exist in ${base}`) : e;
      });
      return handle.createReadStream(range ? { start: range.start, end: range.end } : {});
    },
    async head(key) {
      const stat = await fsp.stat(fileOf(key)).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return null;
        throw e;
      });
      return stat ? { key, bytes: stat.size, modified: stat.mtime } : null;
    },
    async delete(key) {
      await fsp.rm(fileOf(key), { force: true });
    },
    async *list(prefix) {
      checkPrefix(prefix);
      // Walk from the deepest directory the prefix names, then filter by the whole prefix.
      const slash = prefix.lastIndexOf('/');
      const startRel = slash >= 0 ? prefix.slice(0, slash) : '';
      const found: ArtifactObject[] = [];
      async function walk(rel: string): Promise<void> {
        const entries = await fsp.readdir(path.join(base, rel), { withFileTypes: true }).catch(() => [] as fs.Dirent[]);
        for (const entry of entries) {
          const childRel = rel ? `${rel}/${entry.name}` : entry.name;
          if (entry.isDirectory()) await walk(childRel);
          else if (entry.isFile() && !entry.name.endsWith('.partial') && childRel.startsWith(prefix)) {
            const stat = await fsp.stat(path.join(base, childRel)).catch(() => null);
            if (stat) found.push({ key: childRel, bytes: stat.size, modified: stat.mtime });
          }
        }
      }
      await walk(startRel);
      yield* found;
    },
    async replaceHead(key, head) {
      const handle = await fsp.open(fileOf(key), 'r+');
      try {
        await handle.write(head, 0, head.length, 0);
        await handle.sync();
      } finally {
        await handle.close();
      }
    },
    async check() {
      try {
        await fsp.mkdir(base, { recursive: true, mode: 0o700 });
        const probe = path.join(base, `.probe-${randomBytes(6).toString('hex')}.partial`);
        await fsp.writeFile(probe, 'ok', { mode: 0o600 });
        await fsp.rm(probe, { force: true });
      } catch (e) {
        throw new ArtifactError('DENIED', `The artifact directory ${base} cannot be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
      }
    },
    async close() {},
  };
}
