// Maglev consistent hashing (Eisenbud et al., NSDI 2016, §3.4), with IPVS mh-style weights.
//
// Each backend gets a permutation of the M slots, derived from two hashes of its identity:
//   offset = h1(id) mod M,  skip = h2(id) mod (M - 1) + 1,  perm[j] = (offset + j * skip) mod M
// (M prime makes every skip coprime with M, so each permutation visits every slot once). Backends
// take turns claiming their next still-free preferred slot until the table is full; a backend of
// weight w takes w/gcd claims per turn (IPVS ip_vs_mh does the same), so it ends with about
// M * w / sum(w) slots. Because a backend's preferences do not depend on the others, removing one
// frees only its slots plus a few reshuffled ones: most clients keep their backend.
// Pure: the same backends in the same order always give the same table, on every director.

export interface MaglevBackend {
  /** stable identity, e.g. "10.0.0.1:80" (hashed; never the index) */
  id: string;
  weight: number;
}

/** Primes usable as table sizes (the largest below each power of two from 2^8 to 2^16). */
export const MAGLEV_SIZES: readonly number[] = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521];

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

function fnv1a(s: string, basis: number): number {
  let h = basis >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** murmur3's finalizer: spreads FNV's weak low bits over the whole word */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Claims per turn for each backend: weights divided by their gcd, scaled down if a turn would exceed the table. */
export function maglevTurns(weights: number[], size: number): number[] {
  const live = weights.filter((w) => w > 0);
  if (live.length === 0) return weights.map(() => 0);
  const g = live.reduce(gcd);
  let turns = weights.map((w) => (w > 0 ? w / g : 0));
  const sum = turns.reduce((a, b) => a + b, 0);
  if (sum > size) turns = turns.map((t) => (t > 0 ? Math.max(1, Math.floor((t * size) / sum)) : 0));
  return turns;
}

/**
 * The lookup table: entry i is the index (into `backends`) of the backend owning slot i.
 * Backends with weight 0 own no slot. Returns [] when no backend has a positive weight.
 */
export function maglevTable(backends: MaglevBackend[], size: number): number[] {
  if (!isPrime(size)) throw new Error(`Maglev table size must be prime, got ${size}`);
  const turns = maglevTurns(
    backends.map((b) => b.weight),
    size,
  );
  const live = backends.map((_, i) => i).filter((i) => turns[i]! > 0);
  if (live.length === 0) return [];
  const offset = new Array<number>(backends.length).fill(0);
  const skip = new Array<number>(backends.length).fill(1);
  const next = new Array<number>(backends.length).fill(0);
  for (const i of live) {
    const id = backends[i]!.id;
    offset[i] = fmix32(fnv1a(id, 0x811c9dc5)) % size;
    skip[i] = (fmix32(fnv1a(id, 0x9747b28c)) % (size - 1)) + 1;
  }
  const table = new Array<number>(size).fill(-1);
  let filled = 0;
  while (filled < size) {
    for (const i of live) {
      for (let t = 0; t < turns[i]! && filled < size; t++) {
        let c = (offset[i]! + next[i]! * skip[i]!) % size;
        while (table[c] !== -1) {
          next[i]!++;
          c = (offset[i]! + next[i]! * skip[i]!) % size;
        }
        table[c] = i;
        next[i]!++;
        filled++;
      }
      if (filled >= size) break;
    }
  }
  return table;
}
