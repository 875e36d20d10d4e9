import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { and, desc, eq, isNull, ne } from 'drizzle-orm';
import type { Db } from '../db/client';
import { dataKeys } from '../db/schema';
import type { DbOrTx } from '../db/types';
import { DomainError } from '../core/errors';
import { keyFingerprint } from './master-key';

/**
 * Envelope encryption: content is sealed with AES-256-GCM under a data key, and each data key is
 * stored sealed under the master key. Rotating the master key re-seals the few data keys, never the
 * messages. A sealed value is iv (12) ‖ tag (16) ‖ ciphertext.
 *
 * A person's content (messages, titles, datasets) is sealed under data keys owned by that person
 * (`data_keys.owner_user_id`); install content (upstream keys, webhooks) under keys owned by nobody.
 * Erasing a person destroys their keys (crypto-shredding): every copy of their ciphertext, backups
 * included, can no longer be opened.
 */
const IV_BYTES = 12;
const TAG_BYTES = 16;
// Random 96-bit IVs stay safe far beyond this; a fresh data key now and then keeps the margin wide.
const MAX_USES_PER_DATA_KEY = 1 << 20;

export function seal(key: Buffer, plaintext: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

export function unseal(key: Buffer, sealed: Buffer): Buffer {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new Error('sealed value too short');
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
  decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
}

/** Whose data key: a user's id, or null for install content. */
export type KeyOwner = string | null;

interface KeyCache {
  /** `${masterFingerprint}:${dataKeyId}` → unwrapped data key. */
  unwrapped: Map<string, Buffer>;
  /** `${masterFingerprint}:${owner}` → the data key new content of that owner is sealed with. */
  current: Map<string, Promise<{ id: number; key: Buffer; uses: number }>>;
}
// Per database handle, so two databases in one process (tests) never share key ids.
const caches = new WeakMap<object, KeyCache>();
// Every cache still alive, so destroyed keys can be dropped from all of them (forgetDestroyedDataKeys).
const liveCaches = new Set<WeakRef<KeyCache>>();
function cacheFor(db: DbOrTx): KeyCache {
  let c = caches.get(db);
  if (!c) {
    caches.set(db, (c = { unwrapped: new Map(), current: new Map() }));
    liveCaches.add(new WeakRef(c));
  }
  return c;
}

/**
 * Drops destroyed keys (an erasure) from every cache this process holds: no later call opens content
 * with a key whose row is gone, and no new content is sealed under it.
 */
export async function forgetDestroyedDataKeys(ids: number[]): Promise<void> {
  const gone = new Set(ids);
  for (const ref of liveCaches) {
    const cache = ref.deref();
    if (!cache) {
      liveCaches.delete(ref);
      continue;
    }
    for (const name of [...cache.unwrapped.keys()]) if (gone.has(Number(name.split(':')[1]))) cache.unwrapped.delete(name);
    for (const [name, entry] of [...cache.current]) {
      const current = await entry.catch(() => undefined);
      if (!current || gone.has(current.id)) cache.current.delete(name);
    }
  }
}

/** Drops every unwrapped key this process holds for a database (after a rotation). */
export function forgetDataKeys(db: DbOrTx): void {
  caches.delete(db);
}

async function currentDataKey(db: Db, masterKey: Buffer, owner: KeyOwner = null): Promise<{ id: number; key: Buffer }> {
  const fp = keyFingerprint(masterKey);
  const cache = cacheFor(db);
  const slot = `${fp}:${owner ?? ''}`;
  let entry = cache.current.get(slot);
  if (!entry) {
    entry = (async () => {
      const ownedBy = owner ? eq(dataKeys.ownerUserId, owner) : isNull(dataKeys.ownerUserId);
      const [newest] = await db
        .select()
        .from(dataKeys)
        .where(and(eq(dataKeys.masterFingerprint, fp), ownedBy))
        .orderBy(desc(dataKeys.id))
        .limit(1);
      if (newest) return { id: newest.id, key: unseal(masterKey, newest.wrappedKey), uses: 0 };
      // Keys exist but none under this master key: it was rotated away, or the configured key is
      // wrong. A new key sealed under it would be unreadable after the next restart, so refuse.
      // (A person's first key is made on first use; any key under another master key means the above.)
      const [other] = await db.select({ fp: dataKeys.masterFingerprint }).from(dataKeys).where(ne(dataKeys.masterFingerprint, fp)).limit(1);
      if (other)
        throw new Error(`The data keys are wrapped by master key ${other.fp}, not the configured ${fp}: restart with the current master key`);
      return createDataKey(db, masterKey, owner);
    })();
    cache.current.set(slot, entry);
    entry.catch(() => cache.current.delete(slot));
  }
  const current = await entry;
  if (++current.uses > MAX_USES_PER_DATA_KEY) {
    cache.current.delete(slot);
    return currentDataKey(db, masterKey, owner);
  }
  return current;
}

async function createDataKey(db: Db, masterKey: Buffer, owner: KeyOwner): Promise<{ id: number; key: Buffer; uses: number }> {
  const key = randomBytes(32);
  const [row] = await db
    .insert(dataKeys)
    .values({ wrappedKey: seal(masterKey, key), masterFingerprint: keyFingerprint(masterKey), ownerUserId: owner })
    .returning({ id: dataKeys.id });
  return { id: row!.id, key, uses: 0 };
}

async function dataKeyById(db: Db, masterKey: Buffer, id: number): Promise<Buffer> {
  const fp = keyFingerprint(masterKey);
  const cache = cacheFor(db);
  const cached = cache.unwrapped.get(`${fp}:${id}`);
  if (cached) return cached;
  const [row] = await db.select().from(dataKeys).where(eq(dataKeys.id, id));
  if (!row) throw new Error(`data key ${id} does not exist`);
  // A restore puts a placeholder row where a backup's keyring lost a key to an erasure (operations/backup/restore.ts).
  if (row.masterFingerprint === 'shredded') throw new Error(`data key ${id} was destroyed by an erasure (crypto-shredded)`);
  if (row.masterFingerprint !== fp)
    throw new Error(`data key ${id} is wrapped by master key ${row.masterFingerprint}, not the configured ${fp}`);
  const key = unseal(masterKey, row.wrappedKey);
  cache.unwrapped.set(`${fp}:${id}`, key);
  return key;
}

/** Seals text under the owner's current data key (made on first use); without an owner, under the install's. */
export async function encryptText(db: Db, masterKey: Buffer, text: string, owner: KeyOwner = null): Promise<{ ciphertext: Buffer; dataKeyId: number }> {
  const { id, key } = await currentDataKey(db, masterKey, owner);
  return { ciphertext: seal(key, Buffer.from(text, 'utf8')), dataKeyId: id };
}

export async function decryptText(db: Db, masterKey: Buffer, ciphertext: Buffer, dataKeyId: number): Promise<string> {
  const key = await dataKeyById(db, masterKey, dataKeyId);
  return unseal(key, ciphertext).toString('utf8');
}

/**
 * Bytes sealed for a place with no key-id column of its own (a title, a system prompt, a knowledge chunk,
 * a cached answer): the data key's id (4 bytes, big-endian) ‖ the sealed bytes, under the owner's data
 * key. Rotation still only re-wraps data keys, and erasing the owner destroys the key.
 */
export async function sealWithKeyId(db: Db, masterKey: Buffer, plain: Buffer, owner: KeyOwner): Promise<Buffer> {
  const { id, key } = await currentDataKey(db, masterKey, owner);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(id);
  return Buffer.concat([prefix, seal(key, plain)]);
}

export async function openWithKeyId(db: Db, masterKey: Buffer, sealed: Buffer): Promise<Buffer> {
  return unseal(await dataKeyById(db, masterKey, sealed.readUInt32BE(0)), sealed.subarray(4));
}

/**
 * Re-wraps every data key from the old master key to the new one in one transaction: either all keys
 * move or none do. Messages are not touched. Refuses when some key is wrapped by a third key, since
 * it could not be opened afterwards either.
 */
export async function rotateMasterKey(db: Db, oldKey: Buffer, newKey: Buffer): Promise<{ rewrapped: number }> {
  const oldFp = keyFingerprint(oldKey);
  const newFp = keyFingerprint(newKey);
  if (oldFp === newFp) throw new DomainError('BAD_REQUEST', 'The new master key is the same as the old one');
  const rewrapped = await db.transaction(async (tx) => {
    const rows = await tx.select().from(dataKeys).for('update');
    const foreign = rows.filter((r) => r.masterFingerprint !== oldFp && r.masterFingerprint !== newFp);
    if (foreign.length)
      throw new DomainError('CONFLICT', `${foreign.length} data key(s) are wrapped by another master key (${foreign[0]!.masterFingerprint}); nothing was changed`);
    let count = 0;
    for (const row of rows.filter((r) => r.masterFingerprint === oldFp)) {
      const key = unseal(oldKey, row.wrappedKey);
      await tx.update(dataKeys).set({ wrappedKey: seal(newKey, key), masterFingerprint: newFp }).where(eq(dataKeys.id, row.id));
      count++;
    }
    return count;
  });
  forgetDataKeys(db);
  return { rewrapped };
}

/** How many data keys the given master key cannot open (0 after a complete rotation). */
export async function dataKeysNotWrappedBy(db: Db, masterKey: Buffer): Promise<number> {
  const rows = await db.select({ id: dataKeys.id }).from(dataKeys).where(ne(dataKeys.masterFingerprint, keyFingerprint(masterKey)));
  return rows.length;
}

/**
 * The data-key machinery for content sealed outside the database (dataset files): the current key with
 * its id, to seal a file's own key under it, and a key by id, to open one.
 */
export const dataKeyForSealing = (db: Db, masterKey: Buffer, owner: KeyOwner = null) => currentDataKey(db, masterKey, owner);
export const dataKeyForOpening = (db: Db, masterKey: Buffer, id: number) => dataKeyById(db, masterKey, id);
