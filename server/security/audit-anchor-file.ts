import { createHmac, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Env } from '../core/env';
import { canonicalJson } from './audit-hash';
import type { AuditCheckpoint, AuditProblem } from './audit-verify';
import { keyFingerprint } from './master-key';

/**
 * The audit anchors: one JSON line per checkpoint of the chain's head, appended to a file outside
 * PostgreSQL and MACed with a key derived from the master key, which the database never holds. Whoever
 * can rewrite the database can therefore not forge a checkpoint to match, nor edit one unnoticed.
 */
export const ANCHOR_FILE_NAME = 'anchors.jsonl';

export function auditAnchorFile(env: Pick<Env, 'dataDir' | 'ENCLAVE_AUDIT_ANCHOR_DIR'>): string {
  return path.join(path.resolve(env.ENCLAVE_AUDIT_ANCHOR_DIR ?? path.join(env.dataDir, 'audit-anchors')), ANCHOR_FILE_NAME);
}

interface AnchorLine extends AuditCheckpoint {
  v: 1;
  /** The master key's fingerprint: a line MACed under another key is told apart from a forged one. */
  kid: string;
  mac: string;
}

function macKey(masterKey: Buffer): Buffer {
  return createHmac('sha256', masterKey).update('enclave-audit-anchor-v1').digest();
}

function macOf(masterKey: Buffer, fields: Omit<AnchorLine, 'mac'>): string {
  return createHmac('sha256', macKey(masterKey)).update(canonicalJson(fields)).digest('hex');
}

export function anchorLine(masterKey: Buffer, c: AuditCheckpoint): string {
  const fields: Omit<AnchorLine, 'mac'> = { v: 1, at: c.at, headId: c.headId, headHash: c.headHash, count: c.count, kid: keyFingerprint(masterKey) };
  return JSON.stringify({ ...fields, mac: macOf(masterKey, fields) });
}

type Parsed = { ok: true; line: AnchorLine } | { ok: false };

function parse(text: string): Parsed {
  try {
    const l = JSON.parse(text) as AnchorLine;
    const valid =
      l.v === 1 &&
      Number.isSafeInteger(l.headId) && l.headId > 0 &&
      Number.isSafeInteger(l.count) && l.count > 0 &&
      typeof l.at === 'string' && /^[0-9a-f]{64}$/.test(l.headHash) &&
      typeof l.kid === 'string' && /^[0-9a-f]{64}$/.test(l.mac);
    return valid ? { ok: true, line: l } : { ok: false };
  } catch {
    return { ok: false };
  }
}

/** Only the known fields are signed: anything else a line carries is ignored, never trusted. */
function macMatches(masterKey: Buffer, l: AnchorLine): boolean {
  const expected = Buffer.from(macOf(masterKey, { v: l.v, at: l.at, headId: l.headId, headHash: l.headHash, count: l.count, kid: l.kid }), 'hex');
  return timingSafeEqual(expected, Buffer.from(l.mac, 'hex'));
}

export interface AnchorRead {
  file: string;
  exists: boolean;
  lines: number;
  /** Lines whose MAC holds under this master key. */
  checkpoints: AuditCheckpoint[];
  problems: AuditProblem[];
}

/** Reads and authenticates every line; lines that fail are reported (one problem per kind), never used. */
export function readAnchors(file: string, masterKey: Buffer): AnchorRead {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { file, exists: false, lines: 0, checkpoints: [], problems: [] };
    throw new Error(`Cannot read the audit anchors in ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const kid = keyFingerprint(masterKey);
  const checkpoints: AuditCheckpoint[] = [];
  const tampered: number[] = [];
  const otherKey: number[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    if (!raw.trim()) return;
    const parsed = parse(raw);
    if (!parsed.ok) tampered.push(i + 1);
    else if (parsed.line.kid !== kid) otherKey.push(i + 1);
    else if (!macMatches(masterKey, parsed.line)) tampered.push(i + 1);
    else checkpoints.push({ headId: parsed.line.headId, headHash: parsed.line.headHash, count: parsed.line.count, at: parsed.line.at });
  });
  const problems: AuditProblem[] = [];
  if (tampered.length) {
    problems.push({
      kind: 'anchor-tampered',
      line: tampered[0],
      anchors: tampered.length,
      message: `${tampered.length} checkpoint line(s) in ${file} fail their MAC (first: line ${tampered[0]}): the anchor file was edited.`,
    });
  }
  if (otherKey.length) {
    problems.push({
      kind: 'anchor-other-key',
      line: otherKey[0],
      anchors: otherKey.length,
      message: `${otherKey.length} checkpoint line(s) in ${file} (first: line ${otherKey[0]}) were signed under another master key, so they cannot be checked.`,
    });
  }
  return { file, exists: true, lines: lines.filter((l) => l.trim()).length, checkpoints, problems };
}

/**
 * The newest checkpoint that holds under this key, read from the file's end: the scheduled writer
 * needs only that, and the file grows by a line per checkpoint for as long as the install lives.
 */
export function newestAnchor(file: string, masterKey: Buffer): AuditCheckpoint | undefined {
  const size = fs.statSync(file).size;
  const tail = Math.min(size, 64 * 1024);
  const buffer = Buffer.alloc(tail);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, buffer, 0, tail, size - tail);
  } finally {
    fs.closeSync(fd);
  }
  const kid = keyFingerprint(masterKey);
  // The first line of a partial read may be cut: it simply fails to parse.
  const lines = buffer.toString('utf8').split('\n').reverse();
  for (const raw of lines) {
    const parsed = raw.trim() ? parse(raw) : { ok: false as const };
    if (parsed.ok && parsed.line.kid === kid && macMatches(masterKey, parsed.line)) {
      const { headId, headHash, count, at } = parsed.line;
      return { headId, headHash, count, at };
    }
  }
  // None in the tail (a run of bad lines): the whole file decides.
  return tail < size ? readAnchors(file, masterKey).checkpoints.reduce<AuditCheckpoint | undefined>((a, c) => (!a || c.headId > a.headId ? c : a), undefined) : undefined;
}

/** Appends one checkpoint and syncs it to disk before returning: a checkpoint that can vanish in a crash anchors nothing. */
export function appendAnchor(file: string, masterKey: Buffer, checkpoint: AuditCheckpoint): void {
  const created = ensureAnchorFile(file);
  const fd = fs.openSync(file, 'a', 0o600);
  try {
    fs.writeSync(fd, anchorLine(masterKey, checkpoint) + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  if (created) syncDir(path.dirname(file));
}

/** Creates the anchor file (and its folder, mode 0700) when missing; true when it did. */
export function ensureAnchorFile(file: string): boolean {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    fs.closeSync(fs.openSync(file, 'wx', 0o600));
    syncDir(path.dirname(file));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

function syncDir(dir: string) {
  try {
    const fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  } catch {
    // Not every platform can sync a directory; the file's own sync still holds.
  }
}

/**
 * For `keys rotate-master`: the anchor file re-signed under the new key, staged beside it (moved into
 * place only once the rotation commits). Only lines that verify under the old key are re-signed; any
 * other line is kept byte for byte, so a forged line stays detectable and is never laundered.
 */
export function stageResignedAnchors(file: string, oldKey: Buffer, newKey: Buffer): { staged: string; resigned: number; keptAsIs: number } | undefined {
  if (!fs.existsSync(file)) return undefined;
  const oldKid = keyFingerprint(oldKey);
  let resigned = 0;
  let keptAsIs = 0;
  const out = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((raw) => raw.trim())
    .map((raw) => {
      const parsed = parse(raw);
      if (parsed.ok && parsed.line.kid === oldKid && macMatches(oldKey, parsed.line)) {
        resigned++;
        return anchorLine(newKey, parsed.line);
      }
      keptAsIs++;
      return raw;
    });
  const staged = `${file}.next`;
  fs.writeFileSync(staged, out.map((l) => l + '\n').join(''), { mode: 0o600 });
  const fd = fs.openSync(staged, 'r');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  return { staged, resigned, keptAsIs };
}

/** The anchor file's lines as they are (empty when none was written yet), for a copy kept elsewhere. */
export function exportAnchors(file: string): { file: string; content: string } {
  try {
    return { file, content: fs.readFileSync(file, 'utf8') };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { file, content: '' };
    throw e;
  }
}
