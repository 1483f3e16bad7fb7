// `lvsd realserver up|down` as the real binary in a namespace lab: a real server `rs` and a
// client `cl` on one segment (10.99.0.0/24, fd99::/64). Checked with `ip -j`, /proc/sys and real
// traffic (ARP/ND must not be answered for the VIP, packets routed to the real server must be
// accepted).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, isRoot, PROJECT_ROOT, useLab, type ExecResult, type Lab } from '../../helpers/netns.js';

interface IpAddr {
  family: string;
  local: string;
  prefixlen: number;
  scope: string;
}
type IpLink = { ifname: string; flags: string[]; addr_info: IpAddr[] };

const BIN = path.join(PROJECT_ROOT, 'bin/lvsd.js');
const KEYS = [
  'net.ipv4.conf.all.arp_ignore',
  'net.ipv4.conf.all.arp_announce',
  'net.ipv4.conf.lo.arp_ignore',
  'net.ipv4.conf.lo.arp_announce',
  'net.ipv4.conf.all.rp_filter',
];

describe.skipIf(!isRoot)('lvsd realserver (namespace lab, real binary)', () => {
  const lab = useLab({ nodes: [{ name: 'rs', role: 'plain' }, { name: 'cl', role: 'client' }], ipv6: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lvsd-rs-sys-'));
  const state = path.join(tmp, 'realserver.json');
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  beforeAll(async () => {
    await ensureBuilt(['dist/src/cli/main.js', 'dist/src/cli/realserver.js', 'dist/src/daemon/realserver.js', 'dist/src/net/rtnetlink/client.js']);
  });

  const L = (): Lab => lab();
  const lvsd = (...args: string[]): Promise<ExecResult> => L().tryExec('rs', process.execPath, BIN, 'realserver', ...args, '--state', state);
  const sysctls = async (keys = KEYS): Promise<Record<string, string>> => {
    const out: Record<string, string> = {};
    for (const k of keys) out[k] = (await L().exec('rs', 'cat', `/proc/sys/${k.replace(/\./g, '/')}`)).trim();
    return out;
  };
  const setSysctl = (k: string, v: string | number): Promise<string> => L().exec('rs', 'sh', '-c', `echo ${v} > /proc/sys/${k.replace(/\./g, '/')}`);
  const loAddrs = async (): Promise<string[]> =>
    (await L().ipJson<IpLink[]>('rs', 'addr', 'show', 'dev', 'lo'))[0]!.addr_info.map((a) => `${a.local}/${a.prefixlen} ${a.scope}`).sort();
  const ping = async (addr: string): Promise<boolean> => (await L().tryExec('cl', 'ping', '-c', '1', '-W', '1', addr)).code === 0;
  const flushNeigh = (): Promise<ExecResult> => L().tryExec('cl', 'ip', 'neigh', 'flush', 'dev', 'eth0');

  it('the lab can tell: a VIP on lo WITHOUT arp_ignore is answered in ARP', async () => {
    await L().exec('rs', 'ip', 'addr', 'add', '10.99.0.201/32', 'dev', 'lo');
    expect(await ping('10.99.0.201')).toBe(true);
    await L().exec('rs', 'ip', 'addr', 'del', '10.99.0.201/32', 'dev', 'lo');
    await flushNeigh();
  });

  it('up (DR): VIPs on lo as /32 scope host and /128, ARP sysctls set; ARP/ND not answered, routed traffic accepted', async () => {
    // non-default starting values, to prove that down restores them rather than defaults
    await setSysctl('net.ipv4.conf.all.arp_announce', 1);
    await setSysctl('net.ipv4.conf.lo.arp_ignore', 2);
    const before = { sys: await sysctls(), lo: await loAddrs() };
    expect(before.sys['net.ipv4.conf.all.arp_announce']).toBe('1');

    const r = await lvsd('up', '--vip', '10.99.0.200', '--vip', 'fd99::200', '--mode', 'dr');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('added 10.99.0.200/32 to lo');
    expect(r.stdout).toContain('added fd99::200/128 to lo');
    expect(await loAddrs()).toEqual([...before.lo, '10.99.0.200/32 host', 'fd99::200/128 global'].sort());
    expect(await sysctls()).toEqual({
      'net.ipv4.conf.all.arp_ignore': '1',
      'net.ipv4.conf.all.arp_announce': '2',
      'net.ipv4.conf.lo.arp_ignore': '1',
      'net.ipv4.conf.lo.arp_announce': '2',
      'net.ipv4.conf.all.rp_filter': before.sys['net.ipv4.conf.all.rp_filter'],
    });
    const st = JSON.parse(fs.readFileSync(state, 'utf8'));
    expect(st.addresses).toHaveLength(2);
    expect(st.sysctls.find((s: { key: string[] }) => s.key.join('.') === 'net.ipv4.conf.all.arp_announce')).toMatchObject({ previous: '1', value: '2' });

    // on the segment nobody answers ARP / neighbour solicitations for the VIPs...
    expect(await ping('10.99.0.200')).toBe(false);
    expect(await ping('fd99::200')).toBe(false);
    // ...but packets routed to the real server (what the director does) are accepted
    await L().exec('cl', 'ip', 'route', 'add', '10.99.0.200/32', 'via', '10.99.0.11');
    await L().exec('cl', 'ip', '-6', 'route', 'add', 'fd99::200/128', 'via', 'fd99::11');
    expect(await ping('10.99.0.200')).toBe(true);
    expect(await ping('fd99::200')).toBe(true);
    await L().exec('cl', 'ip', 'route', 'del', '10.99.0.200/32');
    await L().exec('cl', 'ip', '-6', 'route', 'del', 'fd99::200/128');

    // idempotent: a second up changes nothing
    const lo1 = await loAddrs();
    const st1 = fs.readFileSync(state, 'utf8');
    const again = await lvsd('up', '--vip', '10.99.0.200', '--vip', 'fd99::200/128', '--mode', 'dr');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('nothing changed');
    expect(await loAddrs()).toEqual(lo1);
    expect(fs.readFileSync(state, 'utf8')).toBe(st1);

    // down: exactly the values before up, VIPs gone, state file gone
    const down = await lvsd('down');
    expect(down.code).toBe(0);
    expect(down.stdout).toContain('removed 10.99.0.200/32 from lo');
    expect(down.stdout).toContain('net.ipv4.conf.all.arp_announce 2 -> 1');
    expect(down.stdout).toContain('net.ipv4.conf.lo.arp_ignore 1 -> 2');
    expect(await sysctls()).toEqual(before.sys);
    expect(await loAddrs()).toEqual(before.lo);
    expect(fs.existsSync(state)).toBe(false);
    const down2 = await lvsd('down');
    expect(down2.code).toBe(0);
    expect(down2.stdout).toMatch(/nothing to undo/);
  });

  it('a VIP that was there before up is neither recorded nor removed', async () => {
    await L().exec('rs', 'ip', 'addr', 'add', '10.99.0.202/32', 'dev', 'lo');
    const sysBefore = await sysctls();
    const up = await lvsd('up', '--vip', '10.99.0.202', '--vip', '10.99.0.203', '--mode', 'dr');
    expect(up.code).toBe(0);
    expect(up.stdout).toContain('unchanged: 10.99.0.202/32 on lo (not added by lvsd: down leaves it)');
    expect((await lvsd('down')).code).toBe(0);
    const lo = await loAddrs();
    expect(lo).toContain('10.99.0.202/32 global');
    expect(lo.some((a) => a.startsWith('10.99.0.203/'))).toBe(false);
    expect(await sysctls()).toEqual(sysBefore);
    await L().exec('rs', 'ip', 'addr', 'del', '10.99.0.202/32', 'dev', 'lo');
  });

  it('clear errors: usage (exit 2), missing device (exit 1), nothing changed', async () => {
    const sysBefore = await sysctls();
    const loBefore = await loAddrs();
    const bad = await lvsd('up', '--vip', '10.99.0.0/24', '--mode', 'dr');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/single address \(\/32\)/);
    const noMode = await lvsd('up', '--vip', '10.99.0.200');
    expect(noMode.code).toBe(2);
    expect(noMode.stderr).toMatch(/needs --mode dr\|tun/);
    const noDev = await lvsd('up', '--vip', '10.99.0.200', '--mode', 'dr', '--dev', 'nope0');
    expect(noDev.code).toBe(1);
    expect(noDev.stderr).toMatch(/device nope0 does not exist/);
    expect(await sysctls()).toEqual(sysBefore);
    expect(await loAddrs()).toEqual(loBefore);
    expect(fs.existsSync(state)).toBe(false);
  });

  it('TUN: tunl0 with the VIP and loose rp_filter when the kernel has ipip, else a clear error and no change', async () => {
    const keys = [...KEYS, 'net.ipv4.conf.default.rp_filter'];
    const sysBefore = await sysctls(keys);
    const linksBefore = (await L().ipJson<IpLink[]>('rs', 'link', 'show')).map((l) => l.ifname).sort();
    const up = await lvsd('up', '--vip', '10.99.0.210', '--mode', 'tun');
    if (up.code !== 0) {
      // this host's kernel (see shared/reference/this-kernel.md) has no ipip
      expect(up.code).toBe(1);
      expect(up.stderr).toMatch(/cannot create tunl0: this kernel has no ipip support .*LVS-TUN needs it/);
      expect(await sysctls(keys)).toEqual(sysBefore);
      expect((await L().ipJson<IpLink[]>('rs', 'link', 'show')).map((l) => l.ifname).sort()).toEqual(linksBefore);
      expect(fs.existsSync(state)).toBe(false);
      return;
    }
    const tunl = (await L().ipJson<IpLink[]>('rs', 'addr', 'show', 'dev', 'tunl0'))[0]!;
    expect(tunl.flags).toContain('UP');
    expect(tunl.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).toContain('10.99.0.210/32');
    expect((await L().exec('rs', 'cat', '/proc/sys/net/ipv4/conf/tunl0/rp_filter')).trim()).toBe('2');
    expect((await lvsd('down')).code).toBe(0);
    expect(await sysctls(keys)).toEqual(sysBefore);
    const after = await L().ipJson<IpLink[]>('rs', 'addr', 'show');
    expect(after.flatMap((l) => l.addr_info.map((a) => a.local))).not.toContain('10.99.0.210');
  });

  it('the state file of one namespace is refused in another', async () => {
    const up = await lvsd('up', '--vip', '10.99.0.220', '--mode', 'dr');
    expect(up.code).toBe(0);
    const other = await L().tryExec('cl', process.execPath, BIN, 'realserver', 'down', '--state', state);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/belongs to network namespace .* use --state FILE for each namespace/);
    expect((await lvsd('down')).code).toBe(0);
    expect(fs.existsSync(state)).toBe(false);
  });
});
