// Scheduler -> (selector expression, slot table). The kernel side is always
//   <selector> mod K map @<backend map>          (slot i of K -> real server)
// so a weight change or a removal rewrites one small map and one rule, never the ruleset.
//
//   rr   numgen inc;  one slot per live dest                  (exact rotation, like IPVS rr)
//   wrr  numgen inc;  IPVS wrr's own sequence over weights/gcd (exact IPVS order and ratio)
//   sh   jhash of the source address (sched2 "sh-port": . source port); weight/gcd slots per dest
//   dh   jhash of the destination address; weight/gcd slots per dest
//   mh   jhash of the source address (sched2 "mh-port": . source port); a Maglev table of M slots
//   fo   one slot: the live dest with the highest weight (first in canonical order on a tie), as
//        IPVS fo picks it (fo's overload flag comes from thresholds, which nftables lacks)
// "Live" = weight > 0: weight 0 keeps a dest known (and its connections) but gives it no slot, which
// is IPVS's quiescent behaviour and, for sh/mh, also their fallback behaviour (sched1).
// Tables of more than maxSlots entries are scaled down proportionally (each live dest keeps >= 1).
import type { DestSpec, ServiceSpec } from '../types.js';
import { maglevTable } from './maglev.js';

export interface SchedOptions {
  /** prime Maglev table size */
  mhTableSize: number;
  /** jhash seed (the same on both directors: sh/dh/mh then choose alike after a failover) */
  hashSeed: number;
  /** cap for wrr/sh/dh tables */
  maxSlots: number;
}

export interface SlotTable {
  /** the rule's selector expression, "numgen inc mod K" or "jhash ... mod K seed S" */
  selector: string;
  /** slot -> dest (length K); empty when no dest is live */
  slots: DestSpec[];
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Weights divided by their gcd, scaled down so they sum to at most maxSlots. */
export function reducedWeights(weights: number[], maxSlots: number): number[] {
  const live = weights.filter((w) => w > 0);
  if (live.length === 0) return weights.map(() => 0);
  const g = live.reduce(gcd);
  let r = weights.map((w) => (w > 0 ? w / g : 0));
  const sum = r.reduce((a, b) => a + b, 0);
  if (sum > maxSlots) r = r.map((w) => (w > 0 ? Math.max(1, Math.floor((w * maxSlots) / sum)) : 0));
  return r;
}

/**
 * IPVS wrr order (ip_vs_wrr_schedule): the current weight cw steps down from max to 1 (in reduced
 * units), and at each step every dest whose weight >= cw is picked, in list order. 1:2:3 gives
 * c b c a b c. Length = sum of reduced weights.
 */
export function wrrSequence(weights: number[], maxSlots: number): number[] {
  const r = reducedWeights(weights, maxSlots);
  const max = Math.max(0, ...r);
  const seq: number[] = [];
  for (let cw = max; cw >= 1; cw--) {
    for (let i = 0; i < r.length; i++) if (r[i]! >= cw) seq.push(i);
  }
  return seq;
}

/** Dest order used for every table: by address (numeric), then port. Independent of insertion order. */
export function canonicalOrder(dests: Iterable<DestSpec>): DestSpec[] {
  const key = (d: DestSpec): string => {
    if (d.address.includes(':')) return `6:${d.address}`;
    return `4:${d.address
      .split('.')
      .map((o) => o.padStart(3, '0'))
      .join('.')}`;
  };
  return [...dests].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -1 : ka > kb ? 1 : a.port - b.port;
  });
}

function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

/**
 * The slot table for a service. `l3` is the nft payload protocol ("ip" or "ip6"); in the netdev
 * table the same expressions work, as nft adds the ethertype dependency itself.
 */
export function slotTable(svc: ServiceSpec, dests: Iterable<DestSpec>, l3: 'ip' | 'ip6', o: SchedOptions): SlotTable {
  const all = canonicalOrder(dests);
  const live = all.filter((d) => d.weight > 0);
  const seed = hex32(o.hashSeed);
  const srcKey = svc.flags.sched2 ? `${l3} saddr . th sport` : `${l3} saddr`;
  const pick = (idx: number[]): DestSpec[] => idx.map((i) => live[i]!);
  const weighted = (): DestSpec[] => {
    const r = reducedWeights(
      live.map((d) => d.weight),
      o.maxSlots,
    );
    const out: DestSpec[] = [];
    live.forEach((d, i) => {
      for (let k = 0; k < r[i]!; k++) out.push(d);
    });
    return out;
  };
  let selector: string;
  let slots: DestSpec[];
  switch (svc.scheduler) {
    case 'rr':
      selector = 'numgen inc';
      slots = live;
      break;
    case 'wrr':
      selector = 'numgen inc';
      slots = pick(
        wrrSequence(
          live.map((d) => d.weight),
          o.maxSlots,
        ),
      );
      break;
    case 'sh':
      selector = `jhash ${srcKey}`;
      slots = weighted();
      break;
    case 'dh':
      selector = `jhash ${l3} daddr`;
      slots = weighted();
      break;
    case 'mh': {
      selector = `jhash ${srcKey}`;
      const t = maglevTable(
        live.map((d) => ({ id: `${d.address}:${d.port}`, weight: d.weight })),
        o.mhTableSize,
      );
      slots = pick(t);
      break;
    }
    case 'fo': {
      selector = 'numgen inc';
      const best = live.reduce<DestSpec | undefined>((b, d) => (!b || d.weight > b.weight ? d : b), undefined);
      slots = best ? [best] : [];
      break;
    }
    default:
      throw new Error(`scheduler ${svc.scheduler} is not available with nftables`);
  }
  selector = `${selector} mod ${Math.max(1, slots.length)}`;
  if (selector.startsWith('jhash')) selector = `${selector} seed ${seed}`;
  return { selector, slots };
}
