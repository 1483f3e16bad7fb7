import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  desiredSysctls,
  deviceFor,
  parseVip,
  parseVips,
  RealserverError,
  realserverDown,
  realserverUp,
  sysctlName,
  type RealserverDeps,
  type RtnlOps,
} from '../../../src/daemon/realserver.js';
import { emptyState, fileStateStore, parseState, type RealserverState, type StateStore } from '../../../src/daemon/realserver-state.js';
import type { AddrInfo, AddressSpec, LinkInfo } from '../../../src/net/rtnetlink/codec.js';
import { encodeDelLink, encodeNewLink, encodeSetLinkUp, IFF_LOOPBACK, IFF_UP } from '../../../src/net/rtnetlink/codec.js';
import { runRealserver } from '../../../src/cli/realserver.js';
import { decodeAttrs } from '../../../src/net/netlink/codec.js';

describe('VIP parsing', () => {
  it('accepts single addresses, canonicalises, refuses prefixes and special addresses', () => {
    expect(parseVip('192.0.2.10')).toEqual({ address: '192.0.2.10', family: 'inet', prefixLen: 32 });
    expect(parseVip('192.0.2.10/32').prefixLen).toBe(32);
    expect(parseVip('2001:DB8:0::10/128')).toEqual({ address: '2001:db8::10', family: 'inet6', prefixLen: 128 });
    expect(() => parseVip('192.0.2.10/24')).toThrow(/single address \(\/32\).*whole subnet/);
    expect(() => parseVip('2001:db8::1/64')).toThrow(/\/128/);
    expect(() => parseVip('foo')).toThrow(RealserverError);
    expect(() => parseVip('300.1.1.1')).toThrow(/not an IPv4 or IPv6/);
    for (const bad of ['0.0.0.0', '127.0.0.2', '224.0.0.18', '255.255.255.255', '::', '::1', 'ff02::12', 'fe80::1'])
      expect(() => parseVip(bad), bad).toThrow(/cannot be a virtual service address/);
    expect(parseVips(['192.0.2.1', '192.0.2.1/32', '2001:db8::1'])).toHaveLength(2);
    expect(() => parseVips([])).toThrow(/no --vip/);
  });

  it('devices: lo for DR, tunl0/ip6tnl0 for TUN, --dev overrides', () => {
    expect(deviceFor('dr', 'inet')).toEqual({ name: 'lo', kind: null });
    expect(deviceFor('dr', 'inet6')).toEqual({ name: 'lo', kind: null });
    expect(deviceFor('tun', 'inet')).toEqual({ name: 'tunl0', kind: 'ipip' });
    expect(deviceFor('tun', 'inet6')).toEqual({ name: 'ip6tnl0', kind: 'ip6tnl' });
    expect(deviceFor('tun', 'inet', 'tunl0')).toEqual({ name: 'tunl0', kind: 'ipip' });
    expect(deviceFor('tun', 'inet', 'mytun')).toEqual({ name: 'mytun', kind: null });
    expect(() => deviceFor('dr', 'inet', '../x')).toThrow(/bad device/);
  });

  it('sysctls: ARP settings on all + the VIP device; rp_filter loose on the tunnel only', () => {
    expect(desiredSysctls('dr', ['lo']).map((s) => `${sysctlName(s.key)}=${s.value}`)).toEqual([
      'net.ipv4.conf.all.arp_ignore=1',
      'net.ipv4.conf.all.arp_announce=2',
      'net.ipv4.conf.lo.arp_ignore=1',
      'net.ipv4.conf.lo.arp_announce=2',
    ]);
    expect(desiredSysctls('tun', ['tunl0']).map((s) => `${sysctlName(s.key)}=${s.value}`)).toContain('net.ipv4.conf.tunl0.rp_filter=2');
    expect(desiredSysctls('tun', ['tunl0']).some((s) => sysctlName(s.key) === 'net.ipv4.conf.all.rp_filter')).toBe(false);
    expect(desiredSysctls('dr', [])).toEqual([]); // IPv6 only: neighbour discovery needs nothing
  });
});

describe('link request encoders', () => {
  it('RTM_NEWLINK create carries IFLA_IFNAME and IFLA_LINKINFO/IFLA_INFO_KIND', () => {
    const b = encodeNewLink('tunl0', 'ipip');
    const attrs = decodeAttrs(b.subarray(16));
    expect(attrs.map((a) => a.type & 0x3fff)).toEqual([3, 18]);
    expect(attrs[0]!.data.toString()).toBe('tunl0\0');
    expect(decodeAttrs(attrs[1]!.data)[0]!.data.toString()).toBe('ipip\0');
    expect(() => encodeNewLink('a/b', 'ipip')).toThrow(/bad interface name/);
  });
  it('set up/down touches only IFF_UP; delete is a bare ifinfomsg', () => {
    const up = encodeSetLinkUp(7, true);
    expect([up.readInt32LE(4), up.readUInt32LE(8), up.readUInt32LE(12)]).toEqual([7, IFF_UP, IFF_UP]);
    expect(encodeSetLinkUp(7, false).readUInt32LE(8)).toBe(0);
    expect(encodeDelLink(9).readInt32LE(4)).toBe(9);
    expect(() => encodeDelLink(0)).toThrow();
  });
});

// ---- a fake kernel ------------------------------------------------------------------------

class FakeKernel implements RtnlOps {
  links = new Map<string, LinkInfo>();
  addrs: AddrInfo[] = [];
  sysctls = new Map<string, string>();
  ipipSupported = true;
  failAdd: string | null = null;
  private next = 10;
  calls: string[] = [];

  constructor() {
    this.addLink('lo', null, true);
    this.addLink('eth0', null, true);
    for (const d of ['all', 'default', 'lo', 'eth0'])
      for (const k of ['arp_ignore', 'arp_announce', 'rp_filter']) this.sysctls.set(`net.ipv4.conf.${d}.${k}`, '0');
  }

  addLink(name: string, kind: string | null, up: boolean): LinkInfo {
    const l = { ifindex: name === 'lo' ? 1 : this.next++, name, mac: null, type: 1, flags: name === 'lo' ? IFF_LOOPBACK : kind ? 0x80 : 0, up, running: up, lowerUp: up, operstate: 'up', mtu: 1500, kind, master: null } as LinkInfo;
    this.links.set(name, l);
    if (name !== 'lo' && name !== 'eth0') for (const k of ['arp_ignore', 'arp_announce', 'rp_filter']) this.sysctls.set(`net.ipv4.conf.${name}.${k}`, '1');
    return l;
  }

  async getLink(which: string | number): Promise<LinkInfo | null> {
    if (typeof which === 'number') return [...this.links.values()].find((l) => l.ifindex === which) ?? null;
    const l = this.links.get(which);
    return l ? { ...l } : null;
  }
  async listAddresses(): Promise<AddrInfo[]> {
    return this.addrs.map((a) => ({ ...a }));
  }
  async addAddress(s: AddressSpec): Promise<boolean> {
    this.calls.push(`add ${s.address}/${s.prefixLen} ${s.ifindex} scope=${s.scope ?? '-'}`);
    if (this.failAdd === s.address) throw Object.assign(new Error('add address: Permission denied (EACCES)'), { code: 'EACCES' });
    if (this.addrs.some((a) => a.address === s.address && a.ifindex === s.ifindex)) throw Object.assign(new Error('exists'), { code: 'EEXIST' });
    this.addrs.push({ family: s.address.includes(':') ? 'inet6' : 'inet', ifindex: s.ifindex, address: s.address, prefixLen: s.prefixLen, peer: null, broadcast: null, label: null, scope: 0, flags: 0, preferredLft: null, validLft: null });
    return true;
  }
  async deleteAddress(s: Pick<AddressSpec, 'ifindex' | 'address' | 'prefixLen'>): Promise<boolean> {
    this.calls.push(`del ${s.address}`);
    const i = this.addrs.findIndex((a) => a.address === s.address && a.ifindex === s.ifindex);
    if (i < 0) return false;
    this.addrs.splice(i, 1);
    return true;
  }
  async createLink(name: string, kind: string): Promise<boolean> {
    this.calls.push(`create ${name} ${kind}`);
    if (!this.ipipSupported) throw Object.assign(new Error('Unknown device type (ENOTSUP)'), { code: 'ENOTSUP' });
    if (this.links.has(name)) return false;
    this.addLink(name, kind, false);
    return true;
  }
  async setLinkUp(ifindex: number, up: boolean): Promise<void> {
    this.calls.push(`link ${ifindex} ${up ? 'up' : 'down'}`);
    for (const l of this.links.values()) if (l.ifindex === ifindex) l.up = up;
  }
  async deleteLink(ifindex: number): Promise<void> {
    this.calls.push(`dellink ${ifindex}`);
    for (const [n, l] of this.links) if (l.ifindex === ifindex) {
      this.links.delete(n);
      for (const k of [...this.sysctls.keys()]) if (k.startsWith(`net.ipv4.conf.${n}.`)) this.sysctls.delete(k);
    }
  }
  sysctl = {
    read: async (key: readonly string[]): Promise<string> => {
      const v = this.sysctls.get(key.join('.'));
      if (v === undefined) throw Object.assign(new Error(`no ${key.join('.')}`), { code: 'ENOENT' });
      return v;
    },
    write: async (key: readonly string[], value: string): Promise<void> => {
      if (!this.sysctls.has(key.join('.'))) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      this.calls.push(`sysctl ${key.join('.')}=${value}`);
      this.sysctls.set(key.join('.'), value);
    },
  };
  snapshot(): string {
    return JSON.stringify({ links: [...this.links.values()].map((l) => [l.name, l.up]), addrs: this.addrs.map((a) => `${a.address}@${a.ifindex}`), sys: [...this.sysctls].sort() });
  }
}

function memStore(): StateStore & { state: RealserverState | null } {
  const s = {
    file: '/mem/state.json',
    state: null as RealserverState | null,
    async load() {
      return s.state ? parseState(JSON.parse(JSON.stringify(s.state))) : null;
    },
    async save(st: RealserverState) {
      s.state = JSON.parse(JSON.stringify(st));
    },
    async remove() {
      s.state = null;
    },
  };
  return s;
}

function deps(k: FakeKernel, store = memStore(), netns = 'net:[1]'): RealserverDeps & { store: ReturnType<typeof memStore> } {
  return { rtnl: k, sysctl: k.sysctl, store, netns };
}

describe('realserver up/down (fake kernel)', () => {
  it('DR: ARP sysctls first, then the VIPs on lo (scope host / nodad); up twice changes nothing; down restores', async () => {
    const k = new FakeKernel();
    k.sysctls.set('net.ipv4.conf.all.arp_announce', '1'); // a non-default value that must come back
    const before = k.snapshot();
    const d = deps(k);
    const rep = await realserverUp({ vips: ['192.0.2.10', '2001:db8::10'], mode: 'dr' }, d);
    expect(rep.changes).toEqual([
      'net.ipv4.conf.all.arp_ignore 0 -> 1',
      'net.ipv4.conf.all.arp_announce 1 -> 2',
      'net.ipv4.conf.lo.arp_ignore 0 -> 1',
      'net.ipv4.conf.lo.arp_announce 0 -> 2',
      'added 192.0.2.10/32 to lo',
      'added 2001:db8::10/128 to lo',
    ]);
    expect(k.calls.findIndex((c) => c.startsWith('add'))).toBeGreaterThan(k.calls.findLastIndex((c) => c.startsWith('sysctl')));
    expect(k.calls).toContain('add 192.0.2.10/32 1 scope=host');
    expect(d.store.state!.addresses).toHaveLength(2);
    expect(d.store.state!.sysctls.find((s) => sysctlName(s.key) === 'net.ipv4.conf.all.arp_announce')).toMatchObject({ previous: '1', value: '2' });

    const after1 = k.snapshot();
    const saved = JSON.stringify(d.store.state);
    const again = await realserverUp({ vips: ['192.0.2.10', '2001:db8::10'], mode: 'dr' }, d);
    expect(again.changes).toEqual([]);
    expect(k.snapshot()).toBe(after1);
    expect(JSON.stringify(d.store.state)).toBe(saved);

    const down = await realserverDown({}, d);
    expect(down.changes).toContain('removed 192.0.2.10/32 from lo');
    expect(down.changes).toContain('net.ipv4.conf.all.arp_announce 2 -> 1');
    expect(k.snapshot()).toBe(before);
    expect(d.store.state).toBeNull();
    expect((await realserverDown({}, d)).unchanged[0]).toMatch(/nothing to undo/);
  });

  it('leaves alone what it did not do: pre-existing VIPs and sysctls, and values changed after up', async () => {
    const k = new FakeKernel();
    k.sysctls.set('net.ipv4.conf.all.arp_ignore', '1');
    await k.addAddress({ ifindex: 1, address: '192.0.2.10', prefixLen: 32 });
    const d = deps(k);
    const rep = await realserverUp({ vips: ['192.0.2.10', '192.0.2.11'], mode: 'dr' }, d);
    expect(rep.unchanged).toContain('192.0.2.10/32 on lo (not added by lvsd: down leaves it)');
    expect(rep.unchanged).toContain('net.ipv4.conf.all.arp_ignore = 1');
    k.sysctls.set('net.ipv4.conf.lo.arp_ignore', '2'); // an administrator changes it afterwards
    const down = await realserverDown({}, d);
    expect(k.addrs.map((a) => a.address)).toEqual(['192.0.2.10']);
    expect(k.sysctls.get('net.ipv4.conf.all.arp_ignore')).toBe('1');
    expect(k.sysctls.get('net.ipv4.conf.lo.arp_ignore')).toBe('2');
    expect(down.warnings[0]).toMatch(/lo\.arp_ignore is 2, not the 1 lvsd set/);
  });

  it('down --vip removes only those; sysctls come back with the last VIP', async () => {
    const k = new FakeKernel();
    const d = deps(k);
    await realserverUp({ vips: ['192.0.2.10', '192.0.2.11'], mode: 'dr' }, d);
    const r1 = await realserverDown({ vips: ['192.0.2.10', '192.0.2.99'] }, d);
    expect(r1.changes).toEqual(['removed 192.0.2.10/32 from lo']);
    expect(r1.unchanged).toContain('192.0.2.99 was not added by lvsd: left alone');
    expect(k.sysctls.get('net.ipv4.conf.all.arp_ignore')).toBe('1');
    await realserverDown({ vips: ['192.0.2.11'] }, d);
    expect(k.sysctls.get('net.ipv4.conf.all.arp_ignore')).toBe('0');
    expect(d.store.state).toBeNull();
  });

  it('TUN: creates and raises tunl0, loose rp_filter on it; down deletes what it created', async () => {
    const k = new FakeKernel();
    const before = k.snapshot();
    const d = deps(k);
    const rep = await realserverUp({ vips: ['192.0.2.20'], mode: 'tun' }, d);
    expect(rep.changes.slice(0, 2)).toEqual(['created ipip device tunl0', 'set tunl0 up']);
    expect(rep.changes).toContain('net.ipv4.conf.tunl0.rp_filter 1 -> 2');
    expect(k.links.get('tunl0')!.up).toBe(true);
    expect(d.store.state!.links).toEqual([{ name: 'tunl0', kind: 'ipip', created: true, broughtUp: false }]);
    await realserverDown({}, d);
    expect(k.snapshot()).toBe(before);
  });

  it('TUN with a fallback tunl0 that exists down: set up, and down again on down', async () => {
    const k = new FakeKernel();
    k.addLink('tunl0', 'ipip', false);
    const d = deps(k);
    await realserverUp({ vips: ['192.0.2.20'], mode: 'tun' }, d);
    expect(d.store.state!.links).toEqual([{ name: 'tunl0', kind: 'ipip', created: false, broughtUp: true }]);
    await realserverDown({}, d);
    expect(k.links.get('tunl0')!.up).toBe(false);
    expect(k.sysctls.get('net.ipv4.conf.tunl0.rp_filter')).toBe('1');
  });

  it('TUN without ipip support: a clear error and nothing changed', async () => {
    const k = new FakeKernel();
    k.ipipSupported = false;
    const before = k.snapshot();
    const d = deps(k);
    await expect(realserverUp({ vips: ['192.0.2.20'], mode: 'tun' }, d)).rejects.toThrow(/no ipip support.*LVS-TUN needs it/);
    expect(k.snapshot()).toBe(before);
    expect(d.store.state).toBeNull();
  });

  it('a failure half-way is recorded, so down undoes the part that was done', async () => {
    const k = new FakeKernel();
    const before = k.snapshot();
    k.failAdd = '192.0.2.11';
    const d = deps(k);
    await expect(realserverUp({ vips: ['192.0.2.10', '192.0.2.11'], mode: 'dr' }, d)).rejects.toThrow(/cannot add 192.0.2.11\/32 to lo: .*EACCES/);
    expect(d.store.state!.addresses.map((a) => a.address)).toEqual(['192.0.2.10']);
    expect(d.store.state!.sysctls).toHaveLength(4);
    await realserverDown({}, d);
    expect(k.snapshot()).toBe(before);
  });

  it('DR on a device that does ARP gets a warning', async () => {
    const k = new FakeKernel();
    const rep = await realserverUp({ vips: ['192.0.2.10'], mode: 'dr', dev: 'eth0' }, deps(k));
    expect(rep.warnings[0]).toMatch(/eth0 is neither a loopback.*defeats LVS-DR/);
    const lo = await realserverUp({ vips: ['192.0.2.11'], mode: 'dr' }, deps(new FakeKernel()));
    expect(lo.warnings).toEqual([]);
  });

  it('errors: a missing --dev, and a state file of another network namespace', async () => {
    const k = new FakeKernel();
    await expect(realserverUp({ vips: ['192.0.2.10'], mode: 'dr', dev: 'nope0' }, deps(k))).rejects.toThrow('device nope0 does not exist');
    const store = memStore();
    store.state = emptyState('net:[999]');
    store.state.addresses.push({ dev: 'lo', address: '192.0.2.1', prefixLen: 32, family: 'inet' });
    await expect(realserverDown({}, deps(k, store))).rejects.toThrow(/belongs to network namespace net:\[999\].*--state/);
  });
});

describe('state file', () => {
  it('round-trips atomically, rejects garbage with a clear message', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsd-rs-'));
    try {
      const file = path.join(dir, 'sub', 'realserver.json');
      const store = fileStateStore(file);
      expect(await store.load()).toBeNull();
      const s = emptyState('net:[1]');
      s.sysctls.push({ key: ['net', 'ipv4', 'conf', 'eth0.100', 'arp_ignore'], previous: '0', value: '1' });
      s.links.push({ name: 'tunl0', kind: 'ipip', created: false, broughtUp: true });
      await store.save(s);
      expect(fs.readdirSync(path.dirname(file))).toEqual(['realserver.json']);
      const back = await store.load();
      expect(back).toMatchObject({ netns: 'net:[1]', sysctls: s.sysctls, links: s.links });
      fs.writeFileSync(file, '{"version":2}');
      await expect(store.load()).rejects.toThrow(/not lvsd realserver state \(unsupported version 2\)/);
      fs.writeFileSync(file, 'nonsense');
      await expect(store.load()).rejects.toThrow(/not lvsd realserver state/);
      await store.remove();
      expect(await store.load()).toBeNull();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('lvsd realserver command line (no kernel involved)', () => {
  const cli = async (...argv: string[]): Promise<{ code: number; out: string; err: string }> => {
    let out = '';
    let err = '';
    const code = await runRealserver(argv, { out: (x) => (out += `${x}\n`), err: (x) => (err += `${x}\n`) });
    return { code, out, err };
  };
  it('usage errors exit 2 with a reason; --help exits 0', async () => {
    expect((await cli('--help')).code).toBe(0);
    expect((await cli('--help')).out).toMatch(/lvsd realserver up +--vip VIP/);
    const cases: [string[], RegExp][] = [
      [[], /up or down\?/],
      [['sideways'], /unknown action "sideways"/],
      [['up', '--mode', 'dr'], /at least one --vip/],
      [['up', '--vip', '192.0.2.1'], /needs --mode dr\|tun/],
      [['up', '--vip', '192.0.2.1', '--mode', 'nat'], /bad --mode "nat"/],
      [['up', '--vip', '192.0.2.0/24', '--mode', 'dr'], /single address/],
      [['up', '--vip', '192.0.2.1', '--mode', 'dr', '--dev', 'a/b'], /bad device name/],
      [['up', '--vip', '192.0.2.1', '--mode', 'dr', 'extra'], /unexpected argument "extra"/],
      [['down', '--bogus'], /unknown option --bogus/],
    ];
    for (const [argv, re] of cases) {
      const r = await cli(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err, argv.join(' ')).toMatch(re);
    }
  });
});
