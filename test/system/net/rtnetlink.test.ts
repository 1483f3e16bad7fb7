// rtnetlink client and monitor inside a namespace, checked against `ip -j`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, isRoot, useLab } from '../../helpers/netns.js';
import { Agent, AgentError, AGENT_DIST, type AgentEvent } from './agent.js';

interface IpAddrInfo {
  family: string;
  local: string;
  prefixlen: number;
  label?: string;
  broadcast?: string;
  nodad?: boolean;
  tentative?: boolean;
  noprefixroute?: boolean;
}
type IpLink = { ifname: string; address: string; addr_info: IpAddrInfo[] };
type RtnlEv = AgentEvent & {
  kind: 'link' | 'addr';
  action: 'new' | 'del';
  link?: { name: string; up: boolean; lowerUp: boolean; running: boolean; operstate: string };
  addr?: { address: string; prefixLen: number; family: string };
};

describe.skipIf(!isRoot)('rtnetlink in a namespace (root)', () => {
  const lab = useLab({ nodes: ['a', 'b'], ipv6: true });
  let a: Agent;

  beforeAll(async () => {
    await ensureBuilt(AGENT_DIST);
    a = await Agent.start(lab(), 'a');
    await a.call('monitor.start');
  });
  afterAll(async () => {
    await a?.stop();
  });

  const ipAddrs = async (): Promise<IpAddrInfo[]> => (await lab().ipJson<IpLink[]>('a', 'addr', 'show', 'dev', 'eth0'))[0]!.addr_info;

  it('interface info: index, MAC, primary IPv4, link-local', async () => {
    const info = await a.call<Record<string, unknown>>('iface.info', { ifname: 'eth0' });
    const ifindex = Number((await lab().exec('a', 'cat', '/sys/class/net/eth0/ifindex')).trim());
    expect(info).toMatchObject({
      ifindex,
      name: 'eth0',
      mac: '02:99:00:00:00:11',
      up: true,
      running: true,
      lowerUp: true,
      operstate: 'up',
      mtu: 1500,
      primaryIpv4: '10.99.0.11',
      ipv6LinkLocal: 'fe80::99:ff:fe00:11',
    });
    const links = await a.call<{ name: string }[]>('rtnl.links');
    expect(links.map((l) => l.name).sort()).toEqual(['eth0', 'lo']);
    expect(await a.call('rtnl.link', { which: 'nope0' })).toBeNull();
  });

  it('adds, lists and deletes IPv4 and IPv6 addresses; EEXIST / EADDRNOTAVAIL are typed', async () => {
    const v4 = { address: '10.99.0.100', prefixLen: 24, label: 'eth0:vip', broadcast: '10.99.0.255' };
    const v6 = { address: 'fd99::100', prefixLen: 64, nodad: true, noprefixroute: true };
    expect(await a.call('rtnl.add', { ifname: 'eth0', spec: v4 })).toBe(true);
    expect(await a.call('rtnl.add', { ifname: 'eth0', spec: v6 })).toBe(true);

    const seen = await ipAddrs();
    expect(seen.find((x) => x.local === '10.99.0.100')).toMatchObject({ family: 'inet', prefixlen: 24, label: 'eth0:vip', broadcast: '10.99.0.255' });
    const six = seen.find((x) => x.local === 'fd99::100')!;
    expect(six).toMatchObject({ family: 'inet6', prefixlen: 64, nodad: true, noprefixroute: true });
    expect(six.tentative).toBeUndefined();

    const listed = await a.call<{ address: string; label: string | null }[]>('rtnl.addrs', { ifname: 'eth0' });
    expect(listed.map((x) => x.address)).toEqual(expect.arrayContaining(['10.99.0.11', '10.99.0.100', 'fd99::11', 'fd99::100', 'fe80::99:ff:fe00:11']));
    // the VIP is a secondary in 10.99.0.0/24: the primary stays the node address
    expect((await a.call<{ primaryIpv4: string }>('iface.info', { ifname: 'eth0' })).primaryIpv4).toBe('10.99.0.11');

    const dup = await a.call('rtnl.add', { ifname: 'eth0', spec: v4 }).catch((e: AgentError) => e);
    expect(dup).toBeInstanceOf(AgentError);
    expect((dup as AgentError).code).toBe('EEXIST');
    expect(await a.call('rtnl.add', { ifname: 'eth0', spec: v6, opts: { ignoreExisting: true } })).toBe(false);
    expect(await a.call('rtnl.add', { ifname: 'eth0', spec: v6, opts: { replace: true } })).toBe(true);

    expect(await a.call('rtnl.del', { ifname: 'eth0', spec: v4 })).toBe(true);
    expect(await a.call('rtnl.del', { ifname: 'eth0', spec: v6 })).toBe(true);
    const after = (await ipAddrs()).map((x) => x.local);
    expect(after).not.toContain('10.99.0.100');
    expect(after).not.toContain('fd99::100');
    expect(after).toContain('10.99.0.11');

    const gone = await a.call('rtnl.del', { ifname: 'eth0', spec: v4 }).catch((e: AgentError) => e);
    expect((gone as AgentError).code).toBe('EADDRNOTAVAIL');
    expect(await a.call('rtnl.del', { ifname: 'eth0', spec: v6, opts: { ignoreMissing: true } })).toBe(false);
    const nodev = await a.call('rtnl.add', { spec: { ...v4, ifindex: 9999 } }).catch((e: AgentError) => e);
    expect((nodev as AgentError).code).toBe('ENODEV');
  });

  it('address events arrive for changes made by someone else', async () => {
    const mark = a.mark();
    await lab().exec('a', 'ip', 'addr', 'add', '10.99.0.200/24', 'dev', 'eth0');
    await a.waitEvent<RtnlEv>('rtnl', (e) => e.kind === 'addr' && e.action === 'new' && e.addr!.address === '10.99.0.200', { since: mark });
    await lab().exec('a', 'ip', '-6', 'addr', 'add', 'fd99::200/64', 'dev', 'eth0', 'nodad');
    await a.waitEvent<RtnlEv>('rtnl', (e) => e.kind === 'addr' && e.action === 'new' && e.addr!.address === 'fd99::200', { since: mark });
    await lab().exec('a', 'ip', 'addr', 'del', '10.99.0.200/24', 'dev', 'eth0');
    const del = await a.waitEvent<RtnlEv>('rtnl', (e) => e.kind === 'addr' && e.action === 'del', { since: mark });
    expect(del.addr).toMatchObject({ address: '10.99.0.200', prefixLen: 24, family: 'inet' });
  });

  it('link events: carrier loss when the switch port goes down, and admin down', async () => {
    let mark = a.mark();
    const sw = lab();
    await sw.exec('sw', 'ip', 'link', 'set', sw.node('a').port, 'down');
    const lost = await a.waitEvent<RtnlEv>('rtnl', (e) => e.kind === 'link' && e.link!.name === 'eth0' && !e.link!.lowerUp, { since: mark });
    expect(lost.link).toMatchObject({ up: true, running: false });
    expect(lost.link!.operstate).not.toBe('up');
    await sw.exec('sw', 'ip', 'link', 'set', sw.node('a').port, 'up');
    await a.waitEvent<RtnlEv>('rtnl', (e) => e.kind === 'link' && e.link!.name === 'eth0' && e.link!.lowerUp && e.link!.operstate === 'up', {
      since: mark,
    });

    mark = a.mark();
    await sw.exec('a', 'ip', 'link', 'set', 'eth0', 'down');
    const down = await a.waitEvent<RtnlEv>('rtnl', (e) => e.kind === 'link' && e.link!.name === 'eth0' && !e.link!.up, { since: mark });
    expect(down.link).toMatchObject({ up: false, operstate: 'down' });
    await sw.exec('a', 'ip', 'link', 'set', 'eth0', 'up');
    await a.waitEvent<RtnlEv>('rtnl', (e) => e.kind === 'link' && e.link!.name === 'eth0' && e.link!.up, { since: mark });
  });

  it('a monitor that falls behind reports an overrun (ENOBUFS) instead of silently losing events', async () => {
    await a.call('monitor.start', { name: 'tiny', rcvbuf: 4096 });
    const mark = a.mark();
    const blocked = a.call('block', { ms: 1500 });
    await a.waitEvent('blocking', () => true, { since: mark });
    const ipBatch = (verb: string): string => `for i in $(seq 0 59); do echo "addr ${verb} 10.98.$i.1/32 dev eth0"; done | ip -batch -`;
    await lab().exec('a', 'sh', '-c', ipBatch('add'));
    await blocked;
    await a.waitEvent('overrun', (e) => e.monitor === 'tiny', { since: mark });
    const stats = await a.call<{ overruns: number }>('monitor.stats', { name: 'tiny' });
    expect(stats.overruns).toBeGreaterThanOrEqual(1);
    // the big-buffer monitor kept up
    expect(a.events('overrun', mark).filter((e) => e.monitor === 'rtnl')).toEqual([]);
    // and the overrun monitor is still alive: the next change reaches it
    const after = a.mark();
    await lab().exec('a', 'ip', 'addr', 'add', '10.97.0.1/32', 'dev', 'eth0');
    await a.waitEvent<RtnlEv>('rtnl', (e) => e.monitor === 'tiny' && e.addr?.address === '10.97.0.1', { since: after });
    await lab().exec('a', 'ip', 'addr', 'del', '10.97.0.1/32', 'dev', 'eth0');
    await lab().exec('a', 'sh', '-c', ipBatch('del'));
  });

  it('sysctl helpers read and write inside the namespace', async () => {
    expect(await a.call('sysctl.read', { key: 'net.ipv4.conf.eth0.arp_ignore' })).toBe('0');
    await a.call('sysctl.write', { key: 'net.ipv4.conf.eth0.arp_ignore', value: 1 });
    expect((await lab().exec('a', 'cat', '/proc/sys/net/ipv4/conf/eth0/arp_ignore')).trim()).toBe('1');
    const bad = await a.call('sysctl.write', { key: 'net.ipv4.conf.nope0.arp_ignore', value: 1 }).catch((e: AgentError) => e);
    expect((bad as AgentError).message).toMatch(/sysctl net\.ipv4\.conf\.nope0\.arp_ignore = 1/);
  });
});
