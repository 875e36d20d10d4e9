/**
 * A deterministic train/held-out split: row i is held out when a seeded hash of i falls below the fraction.
 * Recording { seed, heldOutFraction } is enough to rebuild the same split from the same file later, on any
 * machine, without storing row indices, and a row's side does not depend on how many rows follow it.
 */
export type DatasetSplit = { seed: number; heldOutFraction: number; trainRows: number; heldOutRows: number };

/** murmur3's 32-bit finaliser over the seed and the index: well mixed, fast, and the same everywhere. */
function hash32(index: number, seed: number): number {
  let h = (Math.imul(index ^ seed, 0x9e3779b1) + seed) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function isHeldOut(index: number, split: Pick<DatasetSplit, 'seed' | 'heldOutFraction'>): boolean {
  return hash32(index, split.seed) / 2 ** 32 < split.heldOutFraction;
}

export function splitDataset(rowCount: number, options: { heldOutFraction: number; seed: number }): DatasetSplit {
  const { heldOutFraction, seed } = options;
  if (!(heldOutFraction > 0 && heldOutFraction < 1)) throw new Error(`the held-out fraction must be between 0 and 1 (exclusive), not ${heldOutFraction}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`the seed must be an integer from 0 to 4294967295, not ${seed}`);
  if (!Number.isInteger(rowCount) || rowCount < 2) throw new Error(`a split needs at least 2 rows, not ${rowCount}`);
  let heldOutRows = 0;
  for (let i = 0; i < rowCount; i++) if (isHeldOut(i, { seed, heldOutFraction })) heldOutRows++;
  // An empty side would make fine-tuning or the quality gate silently meaningless.
  if (heldOutRows === 0) throw new Error(`a held-out fraction of ${heldOutFraction} with seed ${seed} holds out none of ${rowCount} rows: raise the fraction`);
  if (heldOutRows === rowCount) throw new Error(`a held-out fraction of ${heldOutFraction} with seed ${seed} leaves no training rows among ${rowCount}`);
  return { seed, heldOutFraction, trainRows: rowCount - heldOutRows, heldOutRows };
}

/**
 * The split of an upload. With the uploader's seed, exactly that split (or its error: they asked for
 * it). Without one, random seeds are drawn until both sides have rows: a small file with a 10 % held-out
 * fraction would otherwise be refused about one time in four (0.9^12 ≈ 0.28 for 12 rows) for no reason
 * the uploader could see.
 */
export function chooseSplit(rowCount: number, options: { heldOutFraction: number; seed?: number }, randomSeed: () => number): DatasetSplit {
  if (options.seed !== undefined) return splitDataset(rowCount, { heldOutFraction: options.heldOutFraction, seed: options.seed });
  // Searching seeds only papers over chance: a fraction that expects less than one row on a side is the
  // uploader's to change, and is refused every time (not one time in eight, as luck would have it).
  const expectedHeldOut = options.heldOutFraction * rowCount;
  if (rowCount >= 2 && expectedHeldOut < 1) {
    throw new Error(`a held-out fraction of ${options.heldOutFraction} holds out none of ${rowCount} rows (${expectedHeldOut.toPrecision(2)} expected): raise the fraction`);
  }
  if (rowCount >= 2 && rowCount - expectedHeldOut < 1) {
    throw new Error(`a held-out fraction of ${options.heldOutFraction} leaves no training rows among ${rowCount}: lower the fraction`);
  }
  let last: unknown;
  for (let attempt = 0; attempt < 64; attempt++) {
    try {
      return splitDataset(rowCount, { heldOutFraction: options.heldOutFraction, seed: randomSeed() });
    } catch (e) {
      last = e;
    }
  }
  throw last;
}
