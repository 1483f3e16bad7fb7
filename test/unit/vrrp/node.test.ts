// Whole nodes: the lab's failover scenarios on a simulated LAN with a virtual clock, and our node
// fed the adverts real keepalived 2.2.7 sent (captures) at their captured times.
import { describe, expect, it } from 'vitest';
import type { VrrpInstance } from '../../../src/config/model.js';
import { VrrpNode, type NodeAction } from '../../../src/vrrp/node.js';
import { instance, Lan, nodeConfig, readPcap, stripEthernet, vip } from './helpers.js';

const D1 = '10.99.0.11';
const D2 = '10.99.0.12';

function lan(o: Partial<VrrpInstance> = {}): Lan {
  const mk = (prio: number, state: 'MASTER' | 'BACKUP', addr: string) =>
    new VrrpNode(nodeConfig([instance({ priority: prio, initialState: state, ...o })]), () => ({ primaryAddress: addr }));
  return new Lan(
    new Map([
      ['d1', mk(150, 'MASTER', D1)],
      ['d2', mk(100, 'BACKUP', D2)],
    ]),
  );
}

describe('lab scenarios on a simulated LAN (latency 0.1 ms)', () => {
  it('startup: d1 (state MASTER, 150) starts BACKUP and takes over at 3414.062 ms; d2 stays BACKUP', () => {
    const l = lan();
    l.start('d1');
    l.start('d2');
    l.run(20000);
    expect(l.transitions().map((t) => `${t.at}:${t.node}:${t.to}:${t.reason}`)).toEqual([
      '0:d1:BACKUP:startup',
      '0:d2:BACKUP:startup',
      '3414.062:d1:MASTER:master-down',
    ]);
    // adverts every second, priority 150; 5 GARPs at takeover and 5 more 5 s later
    const tx = l.transmits('d1');
    expect(tx[0]).toEqual({ at: 3414.062, priority: 150 });
    expect(tx.slice(1, 4).map((x) => x.at)).toEqual([4414.062, 5414.062, 6414.062]);
    const garps = l.log.filter((e) => e.node === 'd1' && e.action.type === 'sendGarp');
    expect(garps.map((g) => [g.at, (g.action as { sends: unknown[] }).sends.length])).toEqual([
      [3414.062, 5],
      [8414.062, 5],
    ]);
    expect(l.states('d2')).toEqual(['BACKUP']);
  });

  it('(a) crash: d2 sends its first advert Master_Down_Interval (3609.375 ms) after d1\'s last', () => {
    const l = lan();
    l.start('d1');
    l.start('d2');
    l.run(10000);
    const last = l.transmits('d1').at(-1)!.at;
    l.crash('d1');
    l.run(20000);
    const d2first = l.transmits('d2')[0]!;
    expect(d2first.priority).toBe(100);
    expect(d2first.at - last).toBeCloseTo(3609.375 + 0.1, 6); // lab: 3609.6 [3609.5–3609.9]
    expect(l.states('d2')).toEqual(['BACKUP', 'MASTER']);
  });

  it('(c) SIGTERM: priority-0 advert, d2 takes over Skew_Time (609.375 ms) later; then d1 returns and preempts', () => {
    const l = lan();
    l.start('d1');
    l.start('d2');
    l.run(10000);
    const bye = l.nodes.get('d1')!.shutdown(l.now);
    l.exec('d1', bye);
    const prio0 = bye.find((a) => a.type === 'transmit') as Extract<NodeAction, { type: 'transmit' }>;
    expect(prio0.priority).toBe(0);
    expect(bye.filter((a) => a.type === 'removeVips')).toHaveLength(1);
    l.run(10400);
    l.crash('d1'); // process gone after sending its goodbye
    l.run(30000);
    const d2first = l.transmits('d2')[0]!;
    expect(d2first.at - 10000).toBeCloseTo(609.375 + 0.1, 6); // lab: 609.6
    // d1 comes back (state MASTER, 150): BACKUP, ignores d2's lower priority, takes over after 3414.062
    l.nodes.set('d1', new VrrpNode(nodeConfig([instance({ priority: 150, initialState: 'MASTER' })]), () => ({ primaryAddress: D1 })));
    const restart = l.now;
    l.start('d1');
    l.run(40000);
    const d1back = l.transitions().filter((t) => t.node === 'd1' && t.at >= restart);
    expect(d1back.map((t) => `${(t.at - restart).toFixed(3)}:${t.to}:${t.reason}`)).toEqual(['0.000:BACKUP:startup', '3414.062:MASTER:preempt']);
    // hitless handover: d2 leaves MASTER only once d1's priority-150 advert has arrived
    const d2down = l.transitions().find((t) => t.node === 'd2' && t.to === 'BACKUP' && t.at > restart)!;
    expect(d2down.reason).toBe('higher-priority');
    expect(d2down.at - (restart + 3414.062)).toBeCloseTo(0.1, 6);
    // and d2 never sent its delayed "+5 s" GARP burst after losing MASTER
    const d2garps = l.log.filter((e) => e.node === 'd2' && e.action.type === 'sendGarp' && e.at > d2down.at);
    expect(d2garps).toEqual([]);
  });

  it('(b) v3 at 0.1 s: failover after 360.937 ms, graceful after 60.937 ms', () => {
    const l = lan({ version: 3, advertIntMs: 100 });
    l.start('d1');
    l.start('d2');
    l.run(2000);
    const last = l.transmits('d1').at(-1)!.at;
    l.crash('d1');
    l.run(3000);
    expect(l.transmits('d2')[0]!.at - last).toBeCloseTo(360.937 + 0.1, 6); // lab 361.1

    const g = lan({ version: 3, advertIntMs: 100 });
    g.start('d1');
    g.start('d2');
    g.run(2000);
    g.exec('d1', g.nodes.get('d1')!.shutdown(g.now));
    g.crash('d1');
    g.run(3000);
    expect(g.transmits('d2')[0]!.at - 2000).toBeCloseTo(60.937 + 0.1, 6); // lab 61.1
  });

  it('startup race with sub-second adverts resolves to the higher priority (lab gotcha 7)', () => {
    const l = lan({ version: 3, advertIntMs: 100 });
    // d2 starts 80 ms before d1 and its timer runs out first only if d1's adverts do not arrive in time
    l.start('d2');
    l.run(80);
    l.start('d1');
    l.run(5000);
    const finalState = (n: string) => l.states(n).at(-1);
    expect(finalState('d1')).toBe('MASTER');
    expect(finalState('d2')).toBe('BACKUP');
  });

  it('a network partition makes both MASTER; healing resolves to d1 (d2 hears 150 > 100)', () => {
    const l = lan();
    l.start('d1');
    l.start('d2');
    l.run(10000);
    l.cut.add('d2');
    l.run(20000);
    expect(l.states('d2').at(-1)).toBe('MASTER');
    l.cut.delete('d2');
    l.run(25000);
    expect(l.states('d2').at(-1)).toBe('BACKUP');
    expect(l.states('d1').at(-1)).toBe('MASTER');
    // d1 heard d2's lower-priority adverts: MASTER_RX_LOWER_PRI FIFO line
    const lower = l.log.filter((e) => e.node === 'd1' && e.action.type === 'notify' && 'notify' in e.action && e.action.notify.kind === 'fifo' && e.action.notify.line.includes('MASTER_RX_LOWER_PRI'));
    expect(lower.length).toBeGreaterThan(0);
  });
});

describe('interop: our node receiving what keepalived 2.2.7 sent', () => {
  /** replay d1's frames of a capture into a node playing d2 (prio 100); returns (node, actions, t0) */
  function replay(file: string, inst: Partial<VrrpInstance>, primary: string, v6 = false) {
    const frames = readPcap(file);
    const node = new VrrpNode(nodeConfig([instance({ priority: 100, ...inst })]), () => ({ primaryAddress: primary }));
    const isD1 = (f: (typeof frames)[number]) => {
      const l3 = stripEthernet(f);
      return v6
        ? l3.ipv6?.src === 'fe80::99:ff:fe00:11' && l3.ipv6.nextHeader === 112
        : l3.ethertype === 0x0800 && l3.payload[15] === 11 && (l3.payload[9] === 112 || l3.payload[9] === 51);
    };
    const t0 = frames.find(isD1)!.ts; // we start as d2 did: with d1 already advertising
    const ms = (ts: number) => (ts - t0) * 1000;
    const log: { at: number; a: NodeAction }[] = [];
    const push = (at: number, as: NodeAction[]) => as.forEach((a) => log.push({ at, a }));
    push(0, node.start(0));
    const timers = new Map<string, number>();
    const track = (as: NodeAction[]) => {
      for (const a of as) {
        if (a.type === 'startTimer') timers.set(a.timer, a.at);
        if (a.type === 'stopTimer') timers.delete(a.timer);
      }
    };
    track(log.map((x) => x.a));
    let prio0At = -1;
    for (const f of frames) {
      if (!isD1(f)) continue;
      const l3 = stripEthernet(f);
      const at = ms(f.ts);
      // fire due timers first
      for (const [t, due] of [...timers].sort((a, b) => a[1] - b[1])) {
        if (due > at) continue;
        timers.delete(t);
        const as = node.timerFired('VI_1', t as 'masterDown', due);
        track(as);
        push(due, as);
      }
      const r = v6
        ? node.receiveIpv6('eth0', l3.payload, { src: l3.ipv6!.src, dst: l3.ipv6!.dst, hopLimit: l3.ipv6!.hopLimit }, at)
        : node.receiveIpv4('eth0', l3.payload, at);
      expect(r.drop, `frame ${f.no}`).toBeUndefined();
      track(r.actions);
      push(at, r.actions);
      if (node.instance('VI_1')!.stats.priorityZeroReceived === 1 && prio0At < 0) prio0At = at;
    }
    const down = timers.get('masterDown');
    if (down !== undefined) push(down, node.timerFired('VI_1', 'masterDown', down));
    return { node, log, prio0At };
  }

  it.each([
    ['vrrp2-noauth.pcap', {}],
    ['vrrp2-authpass.pcap', { auth: { type: 'PASS', password: 'labpass1' } }],
    ['vrrp2-authah.pcap', { auth: { type: 'AH', password: 'labpass1' } }],
    ['vrrp3-ipv4.pcap', { version: 3 }],
  ] as const)('%s: BACKUP while d1 advertises, MASTER 609.375 ms after its priority-0 advert', (file, extra) => {
    const { node, log, prio0At } = replay(file, extra as Partial<VrrpInstance>, D2);
    const fsm = node.instance('VI_1')!;
    expect(fsm.stats.advertsReceived).toBeGreaterThanOrEqual(7);
    const toMaster = log.find((x) => x.a.type === 'stateChange' && x.a.to === 'MASTER')!;
    expect(toMaster.at - prio0At).toBeCloseTo(609.375, 6); // keepalived's own d2: 609.6
    expect((toMaster.a as { reason: string }).reason).toBe('priority-zero');
    if (extra && 'auth' in extra && extra.auth.type === 'AH') {
      // our first advert continues above d1's AH sequence numbers
      const tx = log.find((x) => x.a.type === 'transmit')!.a as Extract<NodeAction, { type: 'transmit' }>;
      const seq = new DataView(tx.packets[0]!.bytes.buffer).getUint32(28);
      expect(seq).toBe(fsm.ah.seq);
      expect(seq).toBeGreaterThan(8);
    }
  });

  it('vrrp3-ipv6.pcap: IPv6 link-local adverts accepted via receiveIpv6', () => {
    const { node, prio0At, log } = replay(
      'vrrp3-ipv6.pcap',
      { family: 'inet6', version: 3, vrid: 52, virtualIps: [vip('fd99::100', 64)] },
      'fe80::99:ff:fe00:12',
      true,
    );
    expect(node.instance('VI_1')!.stats.advertsReceived).toBe(5);
    const toMaster = log.find((x) => x.a.type === 'stateChange' && x.a.to === 'MASTER')!;
    expect(toMaster.at - prio0At).toBeCloseTo(609.375, 6);
    const na = log.find((x) => x.a.type === 'sendGarp')!.a as Extract<NodeAction, { type: 'sendGarp' }>;
    expect(na.sends.map((s) => s.kind)).toEqual(['na', 'na', 'na', 'na', 'na']);
  });

  it('our adverts are byte-identical to keepalived\'s for the same state (v2 and v3)', () => {
    for (const [file, version] of [
      ['vrrp2-noauth.pcap', 2],
      ['vrrp3-ipv4.pcap', 3],
    ] as const) {
      const first = stripEthernet(readPcap(file)[0]!).payload; // d1's first advert, IP ID 1
      const node = new VrrpNode(nodeConfig([instance({ priority: 150, version })]), () => ({ primaryAddress: D1 }));
      node.start(0);
      const t = node.timerFired('VI_1', 'masterDown', 10000).find((a) => a.type === 'transmit') as Extract<NodeAction, { type: 'transmit' }>;
      expect(Buffer.from(t.packets[0]!.bytes).toString('hex')).toBe(Buffer.from(first).toString('hex'));
    }
  });
});

describe('node plumbing', () => {
  it('notify actions follow each state change: script, generic notify, FIFO', () => {
    const node = new VrrpNode(
      nodeConfig([instance({ notify: { master: '/m.sh', backup: '/b.sh', generic: '/n.sh' } })]),
      () => ({ primaryAddress: D2 }),
    );
    const a = node.start(0);
    const n = a.filter((x) => x.type === 'notify').map((x) => (x.type === 'notify' ? x.notify : undefined));
    expect(n).toEqual([
      { kind: 'script', command: '/b.sh', args: [] },
      { kind: 'script', command: '/n.sh', args: ['INSTANCE', 'VI_1', 'BACKUP', '100'] },
      { kind: 'fifo', line: 'INSTANCE "VI_1" BACKUP 100\n' },
    ]);
    const m = node.timerFired('VI_1', 'masterDown', 3609.375);
    const kinds = m.map((x) => x.type);
    expect(kinds.indexOf('notify')).toBeGreaterThan(kinds.indexOf('sendGarp')); // after VIPs and GARPs
    expect(m.filter((x) => x.type === 'notify').at(-1)).toMatchObject({ notify: { line: 'INSTANCE "VI_1" MASTER 100\n' } });
  });

  it('tracker changes become priority / fault events, with priority FIFO lines when asked', () => {
    const node = new VrrpNode(
      nodeConfig([instance({ notifyPriorityChanges: true, trackInterfaces: [{ name: 'eth1', weight: -30, reverse: false, loc: { file: '', line: 0, col: 0 } }] })]),
      () => ({ primaryAddress: D2 }),
    );
    node.start(0);
    const a = node.setInterface('eth1', false, 100);
    expect(a.find((x) => x.type === 'priorityChange')).toMatchObject({ from: 100, to: 70 });
    expect(a.find((x) => x.type === 'notify')).toMatchObject({ notify: { line: 'INSTANCE "VI_1" BACKUP_PRIORITY 70\n' } });
    expect(node.setInterface('eth1', false, 200)).toEqual([]); // no change, no actions
    const f = node.setInterface('eth0', false, 300);
    expect(f.find((x) => x.type === 'stateChange')).toMatchObject({ to: 'FAULT', reason: 'fault' });
    expect(node.instance('VI_1')!.faultReason).toBe('interface eth0 down');
    const back = node.setInterface('eth0', true, 400);
    expect(back.find((x) => x.type === 'stateChange')).toMatchObject({ from: 'FAULT', to: 'BACKUP' });
  });

  it('vrrp_script results drive the instance; an unweighted script must report before the instance starts', () => {
    const node = new VrrpNode(
      nodeConfig([instance({ trackScripts: [{ name: 'chk', reverse: false, loc: { file: '', line: 0, col: 0 } }] })], {
        vrrpScripts: { chk: { name: 'chk', script: '/chk', intervalMs: 1000, timeoutMs: 1000, weight: 0, weightReverse: false, rise: 2, fall: 2, initFail: false, loc: { file: '', line: 0, col: 0 } } },
      }),
      () => ({ primaryAddress: D2 }),
    );
    expect(node.start(0).filter((a) => a.type === 'stateChange')).toEqual([]);
    expect(node.instance('VI_1')!.state).toBe('INIT');
    node.scriptResult('chk', true, 1000);
    expect(node.instance('VI_1')!.state).toBe('BACKUP');
    node.scriptResult('chk', false, 2000);
    expect(node.instance('VI_1')!.state).toBe('BACKUP'); // fall 2
    node.scriptResult('chk', false, 3000);
    expect(node.instance('VI_1')!.state).toBe('FAULT');
  });

  it('deleteInstance resigns and reports DELETED when notify_deleted is configured', () => {
    const node = new VrrpNode(nodeConfig([instance({ priority: 255, notify: { deleted: '' } })]), () => ({ primaryAddress: D2 }));
    node.start(0);
    const a = node.deleteInstance('VI_1', 100);
    expect(a.find((x) => x.type === 'transmit')).toMatchObject({ priority: 0 });
    expect(a.find((x) => x.type === 'notify')).toMatchObject({ notify: { line: 'INSTANCE "VI_1" DELETED 255\n' } });
    expect(node.instance('VI_1')).toBeUndefined();
    expect(node.receiveIpv4('eth0', new Uint8Array(0), 200).drop?.reason).toBe('too-short');
  });

  it('unicast peers: one datagram per peer, v3 checksum over each destination, TTL from unicast_ttl', () => {
    const peers = ['10.1.0.2', '10.1.0.3'].map((address) => ({ address, loc: { file: '', line: 0, col: 0 } }));
    const node = new VrrpNode(nodeConfig([instance({ version: 3, priority: 255, unicastPeers: peers, unicastTtl: 64, unicastSrcIp: '10.1.0.1' })]), () => ({
      primaryAddress: D2,
    }));
    const t = node.start(0).find((a) => a.type === 'transmit') as Extract<NodeAction, { type: 'transmit' }>;
    expect(t.packets.map((p) => [p.src, p.dst, p.ttl, p.bytes[8]])).toEqual([
      ['10.1.0.1', '10.1.0.2', 64, 64],
      ['10.1.0.1', '10.1.0.3', 64, 64],
    ]);
    expect(t.packets[0]!.bytes.subarray(26, 28)).not.toEqual(t.packets[1]!.bytes.subarray(26, 28));
  });
});

describe('external faults', () => {
  it('setInstanceFault holds an instance in FAULT until cleared (e.g. no address on the interface)', () => {
    const node = new VrrpNode(nodeConfig([instance()]), () => ({ primaryAddress: D2 }));
    node.setInstanceFault('VI_1', 'no IPv4 address on eth0', 0);
    node.start(0);
    expect(node.instance('VI_1')!.state).toBe('FAULT');
    expect(node.instance('VI_1')!.faultReason).toBe('no IPv4 address on eth0');
    expect(node.setInstanceFault('VI_1', 'no IPv4 address on eth0', 5)).toEqual([]);
    node.setInstanceFault('VI_1', undefined, 10);
    expect(node.instance('VI_1')!.state).toBe('BACKUP');
    expect(node.setInstanceFault('nope', 'x', 10)).toEqual([]);
  });
});
