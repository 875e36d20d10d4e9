/** Scales a vector to unit length in place (a zero vector stays zero): cosine similarity is then a dot product. Used by the built-in engine's embeddings and by knowledge search. */
export function normalise(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  const norm = Math.sqrt(sum) || 1;
  for (let i = 0; i < v.length; i++) v[i]! /= norm;
  return v;
}
