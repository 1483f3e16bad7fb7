// Test helpers: model builders, pcap reader, a simulated LAN of VrrpNodes on a virtual clock.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SyncGroup, VirtualIp, VrrpInstance, VrrpScript, TrackFile } from '../../../src/config/model.js';
import { ipv6String } from '../../../src/net/sockaddr.js';
import { authKey } from '../../../src/vrrp/ah.js';
import { encodeIpv4Vrrp } from '../../../src/vrrp/ipv4.js';
import type { NodeAction } from '../../../src/vrrp/node.js';
import { rxFromIpv4, type RxPacket } from '../../../src/vrrp/receive.js';
import { VrrpNode, type NodeConfig } from '../../../src/vrrp/node.js';

const loc = { file: 'test.conf', line: 1, col: 1 };

export function vip(address: string, prefixLen = 24, extra: Partial<VirtualIp> = {}): VirtualIp {
  const family = address.includes(':') ? 'inet6' : 'inet';
  return { address, prefixLen, family, noDad: false, noTrack: false, key: `${address}/${prefixLen}`, loc, ...extra };
}

export function instance(o: Partial<VrrpInstance> = {}): VrrpInstance {
  const family = o.family ?? 'inet';
  const name = o.name ?? 'VI_1';
  return {
    name,
    id: `vrrp:eth0:${family}:${o.vrid ?? 51}`,
    initialState: 'BACKUP',
    interface: 'eth0',
    vrid: 51,
    priority: 100,
    advertIntMs: 1000,
    version: 2,
    family,
    dontTrackPrimary: false,
    trackInterfaces: [],
    trackScripts: [],
    trackFiles: [],
    unicastPeers: [],
    unicastFaultNoPeer: false,
    checkUnicastSrc: false,
    garpMasterDelayMs: 5000,
    garpMasterRepeat: 5,
    garpMasterRefreshMs: 0,
    garpMasterRefreshRepeat: 1,
    garpIntervalMs: 0,
    gnaIntervalMs: 0,
    downTimerAdverts: 3,
    lowerPrioNoAdvert: false,
    higherPrioSendAdvert: false,
    auth: { type: 'none' },
    virtualIps: [vip(family === 'inet' ? '10.99.0.100' : 'fd99::100', family === 'inet' ? 24 : 64)],
    virtualIpsExcluded: [],
    virtualRoutes: [],
    virtualRules: [],
    accept: true,
    preempt: true,
    preemptDelayMs: 0,
    skipCheckAdvAddr: false,
    strictMode: false,
    useVmac: false,
    notify: {},
    notifyPriorityChanges: false,
    smtpAlert: false,
    loc,
    ...o,
  };
}

export function script(name: string, o: Partial<VrrpScript> = {}): VrrpScript {
  return { name, script: `/bin/${name}`, intervalMs: 1000, timeoutMs: 1000, weight: 0, weightReverse: false, rise: 1, fall: 1, initFail: false, loc, ...o };
}

export function trackFile(name: string, o: Partial<TrackFile> = {}): TrackFile {
  return { name, file: `/run/${name}`, weight: 1, weightReverse: false, loc, ...o };
}

export function syncGroup(name: string, members: string[], o: Partial<SyncGroup> = {}): SyncGroup {
  return { name, members, trackInterfaces: [], trackScripts: [], trackFiles: [], notify: {}, notifyPriorityChanges: false, smtpAlert: false, loc, ...o };
}

export function nodeConfig(instances: VrrpInstance[], o: Partial<NodeConfig> = {}): NodeConfig {
  return { instances, syncGroups: {}, vrrpScripts: {}, trackFiles: {}, ...o };
}

// ---- pcap (classic libpcap, Ethernet link type) ------------------------------------------

export interface Frame {
  no: number;
  ts: number; // seconds
  data: Uint8Array;
}

export function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

export function readPcap(name: string): Frame[] {
  const b = readFileSync(fixture(name));
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && b.readUInt32BE(0) !== 0xa1b2c3d4 && b.readUInt32BE(0) !== 0xa1b23c4d) throw new Error(`${name}: not a pcap file`);
  const nano = (le ? magic : b.readUInt32BE(0)) === 0xa1b23c4d;
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  if (u32(20) !== 1) throw new Error(`${name}: link type ${u32(20)}, expected Ethernet`);
  const frames: Frame[] = [];
  for (let off = 24, no = 1; off + 16 <= b.length; no++) {
    const incl = u32(off + 8);
    frames.push({ no, ts: u32(off) + u32(off + 4) / (nano ? 1e9 : 1e6), data: new Uint8Array(b.subarray(off + 16, off + 16 + incl)) });
    off += 16 + incl;
  }
  return frames;
}

export interface L3 {
  ethertype: number;
  /** IPv4: whole datagram; IPv6: the payload after the fixed header */
  payload: Uint8Array;
  ipv6?: { src: string; dst: string; hopLimit: number; trafficClass: number; nextHeader: number };
}

export function stripEthernet(f: Frame): L3 {
  const d = f.data;
  const ethertype = (d[12]! << 8) | d[13]!;
  const l3 = d.subarray(14);
  if (ethertype === 0x0800) {
    const total = (l3[2]! << 8) | l3[3]!;
    return { ethertype, payload: l3.subarray(0, total) };
  }
  if (ethertype === 0x86dd) {
    const plen = (l3[4]! << 8) | l3[5]!;
    return {
      ethertype,
      payload: l3.subarray(40, 40 + plen),
      ipv6: {
        src: ipv6String(l3, 8),
        dst: ipv6String(l3, 24),
        hopLimit: l3[7]!,
        trafficClass: ((l3[0]! & 0x0f) << 4) | (l3[1]! >> 4),
        nextHeader: l3[6]!,
      },
    };
  }
  return { ethertype, payload: l3 };
}

/** tshark one-line summaries: "  6   3.866616 fe80::.. → ff02::12     VRRP 78 Announcement (v3)" */
export function readSummary(name: string): Map<number, { src: string; dst: string; proto: string; len: number; info: string }> {
  const out = new Map<number, { src: string; dst: string; proto: string; len: number; info: string }>();
  for (const line of readFileSync(fixture(name), 'utf8').split('\n')) {
    const m = /^\s*(\d+)\s+(?:\S+\s+)?\S+\s+(\S+)\s+→\s+(\S+)\s+(\S+)\s+(\d+)\s+(.*)$/.exec(line);
    if (m) out.set(Number(m[1]), { src: m[2]!, dst: m[3]!, proto: m[4]!, len: Number(m[5]), info: m[6]! });
  }
  return out;
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// ---- a simulated LAN: nodes exchange adverts, timers run on a virtual clock ------------------

export interface Event {
  at: number;
  node: string;
  action: NodeAction;
}

export class Lan {
  now = 0;
  readonly log: Event[] = [];
  private readonly timers = new Map<string, number>();
  /** nodes whose link is cut (they neither send nor receive) */
  readonly cut = new Set<string>();
  private readonly inflight: { at: number; from: string; bytes: Uint8Array }[] = [];

  constructor(readonly nodes: Map<string, VrrpNode>, readonly latencyMs = 0.1) {}

  exec(node: string, actions: NodeAction[]): void {
    for (const a of actions) {
      this.log.push({ at: this.now, node, action: a });
      if (a.type === 'startTimer') this.timers.set(`${node}|${a.instance}|${a.timer}`, a.at);
      else if (a.type === 'stopTimer') this.timers.delete(`${node}|${a.instance}|${a.timer}`);
      else if (a.type === 'transmit' && !this.cut.has(node))
        for (const p of a.packets) this.inflight.push({ at: this.now + this.latencyMs, from: node, bytes: p.bytes });
    }
  }

  start(node: string): void {
    this.exec(node, this.nodes.get(node)!.start(this.now));
  }

  /** Remove a node without letting it say goodbye (crash). */
  crash(node: string): void {
    this.nodes.delete(node);
    for (const k of [...this.timers.keys()]) if (k.startsWith(`${node}|`)) this.timers.delete(k);
  }

  /** Advance the clock to `until`, delivering packets and firing timers in time order. */
  run(until: number): void {
    for (;;) {
      const nextTimer = [...this.timers].sort((a, b) => a[1] - b[1])[0];
      this.inflight.sort((a, b) => a.at - b.at);
      const nextPkt = this.inflight[0];
      const tAt = nextTimer?.[1] ?? Infinity;
      const pAt = nextPkt?.at ?? Infinity;
      const at = Math.min(tAt, pAt);
      if (at > until) break;
      this.now = at;
      if (pAt <= tAt) {
        this.inflight.shift();
        for (const [name, n] of this.nodes) {
          if (name === nextPkt!.from || this.cut.has(name) || this.cut.has(nextPkt!.from)) continue;
          this.exec(name, n.receiveIpv4('eth0', nextPkt!.bytes, this.now).actions);
        }
      } else {
        const [k] = nextTimer!;
        this.timers.delete(k);
        const [node, inst, timer] = k.split('|') as [string, string, 'masterDown' | 'advert' | 'garp'];
        const n = this.nodes.get(node);
        if (n) this.exec(node, n.timerFired(inst, timer, this.now));
      }
    }
    this.now = until;
  }

  states(node: string): string[] {
    return this.log.filter((e) => e.node === node && e.action.type === 'stateChange').map((e) => (e.action as { to: string }).to);
  }

  transitions(): { at: number; node: string; to: string; reason: string }[] {
    return this.log
      .filter((e) => e.action.type === 'stateChange')
      .map((e) => {
        const a = e.action as { to: string; reason: string };
        return { at: e.at, node: e.node, to: a.to, reason: a.reason };
      });
  }

  transmits(node: string): { at: number; priority: number }[] {
    return this.log
      .filter((e) => e.node === node && e.action.type === 'transmit')
      .map((e) => ({ at: e.at, priority: (e.action as { priority: number }).priority }));
  }
}

// ---- packets ----------------------------------------------------------------------------


export interface AdvertOpts {
  src?: string;
  dst?: string;
  priority?: number;
  vrid?: number;
  version?: 2 | 3;
  advertIntMs?: number;
  addresses?: string[];
  ttl?: number;
  authType?: number;
  password?: string;
  ah?: { seq: number; password?: string; spi?: number };
  id?: number;
}

export function advertBytes(o: AdvertOpts = {}): Uint8Array {
  const version = o.version ?? 2;
  const authType = o.authType ?? (o.ah ? 2 : o.password !== undefined ? 1 : 0);
  return encodeIpv4Vrrp(
    {
      version,
      vrid: o.vrid ?? 51,
      priority: o.priority ?? 150,
      advertIntMs: o.advertIntMs ?? 1000,
      addresses: o.addresses ?? ['10.99.0.100'],
      ...(version === 2 ? { authType, ...(o.password !== undefined ? { authData: authKey(o.password) } : {}) } : {}),
    },
    {
      src: o.src ?? '10.99.0.11',
      dst: o.dst ?? '224.0.0.18',
      id: o.id ?? 1,
      ttl: o.ttl ?? 255,
      ...(o.ah ? { ah: { key: authKey(o.ah.password ?? 'labpass1'), seq: o.ah.seq, ...(o.ah.spi !== undefined ? { spi: o.ah.spi } : {}) } } : {}),
    },
  );
}

export function rx(o: AdvertOpts = {}): RxPacket {
  const r = rxFromIpv4(advertBytes(o));
  if (!r.ok) throw new Error(`test packet does not decode: ${r.reason} ${r.detail}`);
  return r.value;
}
