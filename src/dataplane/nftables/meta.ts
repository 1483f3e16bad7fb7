// What observe() cannot derive from the forwarding state is stored in nftables comments.
//
// Service: the comment of its element in the dispatch verdict map (inet table svc4|svc6|fwm4|fwm6),
//   "lvsd1 s=wrr f=P2 t=300 m=255.255.255.0 fn=10.0.2.1"
//     s  scheduler name as configured (the rule shows only numgen/jhash)
//     f  flags: P persistent, O one-packet, 1/2/3 scheduler flags; "-" for none
//     t  persistence timeout (s)         m  persistence netmask as given (dotted v4 / v6 prefix)
//     fn full-NAT source address (absent when not full-NAT)
// Dest: the comment of its element in the dest-meta set dm4|dm6|dmm4|dmm6 (shard <n>: dm4_<n>; key =
//   service identity . address . port), "lvsd1 w=3 k=DR mac=02:00:00:00:00:01"
//     w   weight (the slot table shows weight only as a slot count, weight 0 not at all)
//     k   forwarding method
//     mac DR only: the MAC the slot table sends to (resolved, not configured; kept so a restarted
//         engine can check the rules without resolving every real server again)
// Identity (family, protocol, address, port, fwmark) comes from the element keys themselves.
// Thresholds, tunnels and persistence engines are limitations of this engine, so never stored.
// nft limits comments to 128 bytes and forbids '"' inside them; values here are addresses,
// numbers and fixed words, so both always hold (encode* checks anyway).
import type { LbKind, Scheduler } from '../../config/model.js';
import { SCHEDULERS } from '../../config/model.js';
import type { ServiceFlags } from '../types.js';

export const META_VERSION = 'lvsd1';
const MAX_COMMENT = 128;

export interface ServiceMeta {
  scheduler: Scheduler;
  flags: ServiceFlags;
  timeoutS: number;
  netmask: string;
  fullNatSource?: string;
}

export interface DestMeta {
  weight: number;
  fwd: LbKind;
  mac?: string;
}

function flagsText(f: ServiceFlags): string {
  const s = `${f.persistent ? 'P' : ''}${f.onePacket ? 'O' : ''}${f.sched1 ? '1' : ''}${f.sched2 ? '2' : ''}${f.sched3 ? '3' : ''}`;
  return s || '-';
}

function checkComment(s: string): string {
  if (s.length > MAX_COMMENT) throw new Error(`nftables comment longer than ${MAX_COMMENT} bytes: ${s}`);
  if (/["\\\n]/.test(s)) throw new Error(`nftables comment with a forbidden character: ${s}`);
  return s;
}

export function encodeServiceMeta(m: ServiceMeta): string {
  const parts = [META_VERSION, `s=${m.scheduler}`, `f=${flagsText(m.flags)}`, `t=${m.timeoutS}`, `m=${m.netmask}`];
  if (m.fullNatSource) parts.push(`fn=${m.fullNatSource}`);
  return checkComment(parts.join(' '));
}

export function encodeDestMeta(m: DestMeta): string {
  return checkComment(`${META_VERSION} w=${m.weight} k=${m.fwd}${m.mac ? ` mac=${m.mac}` : ''}`);
}

function fields(comment: string, what: string): Map<string, string> {
  const words = comment.trim().split(/\s+/);
  if (words[0] !== META_VERSION) throw new Error(`${what}: not an lvsd comment: "${comment}"`);
  const out = new Map<string, string>();
  for (const w of words.slice(1)) {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new Error(`${what}: bad field "${w}" in "${comment}"`);
    out.set(w.slice(0, eq), w.slice(eq + 1));
  }
  return out;
}

function intField(f: Map<string, string>, k: string, what: string): number {
  const v = f.get(k);
  if (v === undefined || !/^\d+$/.test(v)) throw new Error(`${what}: missing or bad ${k}=`);
  return Number(v);
}

export function decodeServiceMeta(comment: string): ServiceMeta {
  const what = 'service comment';
  const f = fields(comment, what);
  const s = f.get('s');
  if (!s || !(SCHEDULERS as readonly string[]).includes(s)) throw new Error(`${what}: bad scheduler in "${comment}"`);
  const fl = f.get('f');
  if (fl === undefined || !/^(-|P?O?1?2?3?)$/.test(fl)) throw new Error(`${what}: bad flags in "${comment}"`);
  const netmask = f.get('m');
  if (!netmask) throw new Error(`${what}: missing m= in "${comment}"`);
  const meta: ServiceMeta = {
    scheduler: s as Scheduler,
    flags: {
      persistent: fl.includes('P'),
      onePacket: fl.includes('O'),
      sched1: fl.includes('1'),
      sched2: fl.includes('2'),
      sched3: fl.includes('3'),
    },
    timeoutS: intField(f, 't', what),
    netmask,
  };
  const fn = f.get('fn');
  if (fn) meta.fullNatSource = fn;
  return meta;
}

export function decodeDestMeta(comment: string): DestMeta {
  const what = 'dest comment';
  const f = fields(comment, what);
  const k = f.get('k');
  if (k !== 'NAT' && k !== 'DR' && k !== 'TUN') throw new Error(`${what}: bad k= in "${comment}"`);
  const out: DestMeta = { weight: intField(f, 'w', what), fwd: k };
  const mac = f.get('mac');
  if (mac !== undefined) {
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) throw new Error(`${what}: bad mac= in "${comment}"`);
    out.mac = mac;
  }
  return out;
}
