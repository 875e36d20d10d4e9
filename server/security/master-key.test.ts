import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../testing/until';
import { decodeKey, loadMasterKey, type MasterKeyEnv } from './master-key';

let dir: string;
let dataDir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-master-key-'));
  dataDir = path.join(dir, 'data');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const keyHex = randomBytes(32).toString('hex');
const settings = (extra: Partial<MasterKeyEnv> = {}): MasterKeyEnv => ({ dataDir, ENCLAVE_MASTER_KEY_COMMAND_TIMEOUT_MS: 10_000, ...extra });
/** A command line (JSON form, no shell) that runs this Node with a script. */
const nodeCommand = (script: string) => JSON.stringify([process.execPath, '-e', script]);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function keyFile(name: string, mode: number, content = keyHex + '\n') {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  fs.chmodSync(file, mode);
  return file;
}

describe('master key sources', () => {
  it('takes ENCLAVE_MASTER_KEY as hex or base64, and refuses anything else', async () => {
    const loaded = await loadMasterKey(settings({ ENCLAVE_MASTER_KEY: keyHex }));
    expect(loaded).toEqual({ key: Buffer.from(keyHex, 'hex'), source: 'ENCLAVE_MASTER_KEY', warnings: [] });
    expect(decodeKey(Buffer.from(keyHex, 'hex').toString('base64'))).toEqual(Buffer.from(keyHex, 'hex'));
    expect(decodeKey(Buffer.from(keyHex, 'hex').toString('base64url'))).toEqual(Buffer.from(keyHex, 'hex'));
    // 44 characters Node's lenient decoder would have turned into some bytes.
    expect(() => decodeKey('this is not a key, but it is 44 characters!!')).toThrow(/ENCLAVE_MASTER_KEY must be 32 bytes/);
    await expect(loadMasterKey(settings({ ENCLAVE_MASTER_KEY: 'abcd' }))).rejects.toThrow(/ENCLAVE_MASTER_KEY must be 32 bytes.*got 3 bytes/);
  });

  it('reads ENCLAVE_MASTER_KEY_FILE only when its owner alone can read it', async () => {
    const good = keyFile('good.key', 0o600);
    expect(await loadMasterKey(settings({ ENCLAVE_MASTER_KEY_FILE: good }))).toEqual({
      key: Buffer.from(keyHex, 'hex'),
      source: 'ENCLAVE_MASTER_KEY_FILE',
      file: good,
      warnings: [],
    });
    expect((await loadMasterKey(settings({ ENCLAVE_MASTER_KEY_FILE: keyFile('owner-read-only.key', 0o400) }))).source).toBe('ENCLAVE_MASTER_KEY_FILE');
    for (const mode of [0o640, 0o604, 0o620]) {
      const file = keyFile(`open-${mode.toString(8)}.key`, mode);
      await expect(loadMasterKey(settings({ ENCLAVE_MASTER_KEY_FILE: file }))).rejects.toThrow(
        new RegExp(`ENCLAVE_MASTER_KEY_FILE: .*open-${mode.toString(8)}.key can be read or written by its group or others \\(mode 0${mode.toString(8)}\\); run chmod 600`),
      );
    }
    await expect(loadMasterKey(settings({ ENCLAVE_MASTER_KEY_FILE: path.join(dir, 'missing.key') }))).rejects.toThrow(/ENCLAVE_MASTER_KEY_FILE: cannot read .*missing.key \(ENOENT\)/);
    await expect(loadMasterKey(settings({ ENCLAVE_MASTER_KEY_FILE: dir }))).rejects.toThrow(/ENCLAVE_MASTER_KEY_FILE: .* is not a regular file/);
    await expect(loadMasterKey(settings({ ENCLAVE_MASTER_KEY_FILE: keyFile('short.key', 0o600, 'abcd') }))).rejects.toThrow(/ENCLAVE_MASTER_KEY_FILE \(.*short.key\) must be 32 bytes/);
  });

  it('runs ENCLAVE_MASTER_KEY_COMMAND without a shell and takes what it prints', async () => {
    const loaded = await loadMasterKey(settings({ ENCLAVE_MASTER_KEY_COMMAND: nodeCommand(`process.stdout.write(${JSON.stringify(keyHex + '\n')})`) }));
    expect(loaded).toEqual({ key: Buffer.from(keyHex, 'hex'), source: 'ENCLAVE_MASTER_KEY_COMMAND', warnings: [] });
    // Plain words work too, and shell syntax is just more arguments, never interpreted.
    const marker = path.join(dir, 'shell-ran');
    const words = `${process.execPath} -e process.stdout.write(process.argv.slice(1).length===3?'${keyHex}':'') ; touch ${marker}`;
    expect((await loadMasterKey(settings({ ENCLAVE_MASTER_KEY_COMMAND: words }))).key).toEqual(Buffer.from(keyHex, 'hex'));
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('stops on a failing command with a message naming the variable, never its output or command line', async () => {
    const secret = 'hvs.SECRET-TOKEN-123';
    const failing = nodeCommand(`process.stderr.write('denied for ${secret}'); process.stdout.write('${keyHex.slice(0, 30)}'); process.exit(3)`);
    const error = await loadMasterKey(settings({ ENCLAVE_MASTER_KEY_COMMAND: failing })).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^ENCLAVE_MASTER_KEY_COMMAND failed with exit code 3; its output is not shown/);
    expect((error as Error).message).not.toMatch(new RegExp(`${secret}|${keyHex.slice(0, 30)}|-e`));

    const notAKey = await loadMasterKey(settings({ ENCLAVE_MASTER_KEY_COMMAND: nodeCommand(`process.stdout.write('${secret}')`) })).catch((e: Error) => e);
    expect((notAKey as Error).message).toMatch(/^The output of ENCLAVE_MASTER_KEY_COMMAND must be 32 bytes/);
    expect((notAKey as Error).message).not.toContain(secret);

    await expect(loadMasterKey(settings({ ENCLAVE_MASTER_KEY_COMMAND: path.join(dir, 'no-such-program') }))).rejects.toThrow(
      /^ENCLAVE_MASTER_KEY_COMMAND could not be run \(ENOENT\)/,
    );
    await expect(loadMasterKey(settings({ ENCLAVE_MASTER_KEY_COMMAND: '["unclosed"' }))).rejects.toThrow(/^ENCLAVE_MASTER_KEY_COMMAND must be words/);
  });

  it('kills a command that hangs, with whatever it started, when the timeout passes', async () => {
    const pidFile = path.join(dir, 'helper.pid');
    // The command starts a helper that keeps stdout open, then waits forever itself.
    const script = `const c = require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: ['ignore', 'inherit', 'ignore'] });
      require('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(c.pid)); setInterval(() => {}, 1000);`;
    const error = await loadMasterKey(settings({ ENCLAVE_MASTER_KEY_COMMAND: nodeCommand(script), ENCLAVE_MASTER_KEY_COMMAND_TIMEOUT_MS: 1_500 })).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/^ENCLAVE_MASTER_KEY_COMMAND did not finish within 1500 ms \(ENCLAVE_MASTER_KEY_COMMAND_TIMEOUT_MS\)/);
    const helper = Number(fs.readFileSync(pidFile, 'utf8'));
    await until('the helper it started to be killed too', async () => !alive(helper), 5_000);
  });

  it('refuses more than one source, naming them', async () => {
    await expect(loadMasterKey(settings({ ENCLAVE_MASTER_KEY: keyHex, ENCLAVE_MASTER_KEY_FILE: '/x' }))).rejects.toThrow(
      /^Set only one of ENCLAVE_MASTER_KEY, ENCLAVE_MASTER_KEY_FILE:/,
    );
    await expect(loadMasterKey(settings({ ENCLAVE_MASTER_KEY_FILE: '/x', ENCLAVE_MASTER_KEY_COMMAND: 'true' }))).rejects.toThrow(
      /^Set only one of ENCLAVE_MASTER_KEY_FILE, ENCLAVE_MASTER_KEY_COMMAND:/,
    );
  });

  it('generates the key into the data directory when none is set, and warns while it lives there', async () => {
    await expect(loadMasterKey(settings(), { create: false })).rejects.toThrow(/No master key: set ENCLAVE_MASTER_KEY_FILE or ENCLAVE_MASTER_KEY_COMMAND/);
    const first = await loadMasterKey(settings());
    const file = path.join(dataDir, 'master.key');
    expect(first.source).toBe('data directory');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(first.warnings).toHaveLength(1);
    expect(first.warnings[0]).toMatch(/inside the data directory: a copy or backup of that directory opens every stored message/);
    expect(first.warnings[0]).toMatch(/ENCLAVE_MASTER_KEY_FILE .*ENCLAVE_MASTER_KEY_COMMAND/);
    expect((await loadMasterKey(settings())).key).toEqual(first.key);
    // Pointing ENCLAVE_MASTER_KEY_FILE at that same file moves nothing: still warned.
    expect((await loadMasterKey(settings({ ENCLAVE_MASTER_KEY_FILE: file }))).warnings[0]).toMatch(/inside the data directory/);
    fs.chmodSync(file, 0o644);
    await expect(loadMasterKey(settings())).rejects.toThrow(/master.key can be read or written by its group or others \(mode 0644\)/);
  });
});
