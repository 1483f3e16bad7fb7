// A load-balancing lab for the nftables engine, on the shared namespace Lab (test/helpers/netns.ts):
// one bridge, a client, a director and three real servers, each real server running a tiny HTTP
// server that answers "<name> <client address>".
//
//   client  10.99.0.10/24 (+ 10.99.0.100.. as extra source addresses)      fd99::10/64
//   dir     10.99.0.1/24, 10.98.0.1/24, VIP 10.99.0.200/32 on eth0          fd99::1, fd98::1, VIP fd99::200
//   rs1..3  10.98.0.21..23/24                                              fd98::21..23/64
// Clients and real servers share the wire but not a subnet, so NAT replies go back through the
// director (the real servers' default route) and DR replies go straight to the client (an
// on-link route for the client subnet). The director sends no ICMP redirects and the real
// servers accept none: a redirect would move NAT replies off the director (the real server would
// then answer the client directly, which drops the reply).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, type LabProcess } from '../../helpers/netns.js';
import { NftablesEngine, type NftablesEngineOptions } from '../../../src/dataplane/nftables/engine.js';
import { destKey, serviceKey, type DestSpec, type ServiceSpec, type TableState } from '../../../src/dataplane/types.js';
import { diffTables } from '../../../src/dataplane/diff.js';
import { expect } from 'vitest';
import type { Family, LbKind, Scheduler } from '../../../src/config/model.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLIENT = path.join(here, 'fixtures/http-client.mjs');
const SERVER = path.join(here, 'fixtures/http-server.mjs');

export type Mode = 'nat' | 'dr' | 'fullnat';

export const VIP = '10.99.0.200';
export const VIP6 = 'fd99::200';
export const DIR_RS_SIDE = '10.98.0.1';
export const RS = ['10.98.0.21', '10.98.0.22', '10.98.0.23'];
export const RS6 = ['fd98::21', 'fd98::22', 'fd98::23'];
export const CLIENT_ADDR = '10.99.0.10';

export interface HttpResult {
  src?: string;
  body?: string;
  err?: string;
}

export class NftLab {
  private servers = new Map<string, LabProcess>();
  readonly sources: string[];

  private constructor(
    readonly lab: Lab,
    readonly mode: Mode,
    readonly ipv6: boolean,
    nSources: number,
  ) {
    this.sources = Array.from({ length: nSources }, (_, i) => `10.99.0.${100 + i}`);
  }

  static async create(mode: Mode, opts: { ipv6?: boolean; sources?: number } = {}): Promise<NftLab> {
    const ipv6 = opts.ipv6 ?? false;
    const rs = (i: number) => ({
      name: `rs${i + 1}`,
      host: 21 + i,
      ipv4: `${RS[i]}/24`,
      ipv6: ipv6 ? `${RS6[i]}/64` : null,
      role: 'realserver' as const,
      sysctls: {
        'net.ipv4.conf.all.accept_redirects': 0,
        'net.ipv4.conf.eth0.accept_redirects': 0,
        // an IPv6 router cannot be told not to send redirects: the hosts must ignore them
        'net.ipv6.conf.all.accept_redirects': 0,
        'net.ipv6.conf.eth0.accept_redirects': 0,
      },
    });
    const lab = await Lab.create({
      ipv6,
      forward: true,
      nodes: [
        { name: 'client', host: 10, ipv4: `${CLIENT_ADDR}/24`, ipv6: ipv6 ? 'fd99::10/64' : null, role: 'client' },
        {
          name: 'dir',
          host: 1,
          ipv4: '10.99.0.1/24',
          ipv6: ipv6 ? 'fd99::1/64' : null,
          role: 'director',
          sysctls: { 'net.ipv4.conf.all.send_redirects': 0, 'net.ipv4.conf.eth0.send_redirects': 0 },
        },
        rs(0),
        rs(1),
        rs(2),
      ],
    });
    const l = new NftLab(lab, mode, ipv6, opts.sources ?? 0);
    try {
      await l.setup();
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    return l;
  }

  private async setup(): Promise<void> {
    const { lab } = this;
    const sh = (node: string, script: string): Promise<string> => lab.exec(node, 'sh', '-ec', script);
    await sh('dir', `ip addr add ${DIR_RS_SIDE}/24 dev eth0; ip addr add ${VIP}/32 dev eth0`);
    if (this.ipv6) await sh('dir', `ip -6 addr add fd98::1/64 dev eth0 nodad; ip -6 addr add ${VIP6}/128 dev eth0 nodad; sysctl -qw net.ipv6.conf.all.forwarding=1`);
    if (this.sources.length) await sh('client', this.sources.map((a) => `ip addr add ${a}/24 dev eth0`).join('; '));
    for (let i = 0; i < 3; i++) {
      const n = `rs${i + 1}`;
      if (this.mode === 'nat') {
        await sh(n, `ip route add default via ${DIR_RS_SIDE}`);
        if (this.ipv6) await sh(n, 'ip -6 route add default via fd98::1');
      } else if (this.mode === 'dr') {
        // the VIP on lo (arp_ignore=1/arp_announce=2 come with the realserver role) and a direct way back
        await sh(n, `ip addr add ${VIP}/32 dev lo; ip route add 10.99.0.0/24 dev eth0`);
        // IPv6 answers neighbour solicitations only for addresses of the asking interface, so
        // the VIP on lo needs no arp_ignore counterpart
        if (this.ipv6) await sh(n, `ip -6 addr add ${VIP6}/128 dev lo nodad; ip -6 route add fd99::/64 dev eth0`);
      }
      await this.startServer(n);
    }
  }

  ns(node: string): string {
    return this.lab.ns(node);
  }

  async startServer(node: string): Promise<void> {
    const p = this.lab.spawnNode(node, SERVER, [node, '80', this.ipv6 ? '::' : '0.0.0.0']);
    await p.waitForJson((o: { ready?: string }) => o.ready === node, { timeoutMs: 10_000 });
    this.servers.set(node, p);
  }

  async stopServer(node: string): Promise<void> {
    await this.servers.get(node)?.kill();
    this.servers.delete(node);
  }

  /** `count` sequential GETs from the client namespace, each on its own connection. */
  async http(o: { count: number; host?: string; port?: number; sources?: string[]; timeoutMs?: number; delayMs?: number }): Promise<HttpResult[]> {
    const arg = { host: o.host ?? VIP, port: o.port ?? 80, count: o.count, sources: o.sources ?? [], timeoutMs: o.timeoutMs ?? 2000, delayMs: o.delayMs ?? 0 };
    const p = this.lab.spawnNode('client', CLIENT, [JSON.stringify(arg)]);
    const r = await p.waitForJson<{ results: HttpResult[] }>((x) => Array.isArray(x.results), { timeoutMs: 30_000 + o.count * ((o.timeoutMs ?? 2000) + (o.delayMs ?? 0)) });
    return r.results;
  }

  engine(o: NftablesEngineOptions = {}): NftablesEngine {
    return new NftablesEngine({ netns: this.ns('dir'), table: 'lvsdt', drDevice: 'eth0', ...o });
  }

  /** nft in the director namespace */
  nft(...args: string[]): Promise<string> {
    return this.lab.exec('dir', 'nft', ...args);
  }

  async destroy(): Promise<void> {
    await this.lab.destroy();
  }
}

// ---- specs -------------------------------------------------------------------------------

export const NOFLAGS = { persistent: false, onePacket: false, sched1: false, sched2: false, sched3: false };

export function svc(p: Partial<ServiceSpec> & { scheduler: Scheduler }): ServiceSpec {
  const s: ServiceSpec = { family: 'inet', protocol: 'TCP', address: VIP, port: 80, flags: { ...NOFLAGS }, timeoutS: 0, netmask: '255.255.255.255', key: '', ...p };
  if (s.fwmark) {
    delete s.protocol;
    delete s.address;
    delete s.port;
  }
  s.key = serviceKey(s);
  return s;
}

export function dest(address: string, fwd: LbKind, weight = 1, port = 80): DestSpec {
  const family: Family = address.includes(':') ? 'inet6' : 'inet';
  return { key: destKey({ address, port }), family, address, port, fwd, weight, uThreshold: 0, lThreshold: 0 };
}

/** bodies -> server names ("rs1 10.99.0.10" -> "rs1"; errors as "ERR:<code>") */
export function names(rs: HttpResult[]): string[] {
  return rs.map((r) => (r.err ? `ERR:${r.err}` : (r.body ?? '').split(' ')[0]!));
}

export function counts(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

/** A table from services and their destinations. */
export function table(...entries: [ServiceSpec, DestSpec[]][]): TableState {
  return new Map(entries.map(([s, ds]) => [s.key, { svc: s, dests: new Map(ds.map((d) => [d.key, d])) }]));
}

/** Bring the engine to `want` with the minimal diff, and check it got there exactly. */
export async function program(e: NftablesEngine, want: TableState): Promise<void> {
  const r = await e.apply(diffTables(await e.observe(), want));
  expect(r.failed).toEqual([]);
  expect(diffTables(await e.observe(), want)).toEqual([]);
}
