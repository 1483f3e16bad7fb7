// Sync groups: members move together (keepalived vrrp_sync.c).
import { describe, expect, it } from 'vitest';
import type { VrrpInstance } from '../../../src/config/model.js';
import { VrrpNode, type NodeAction } from '../../../src/vrrp/node.js';
import { advertBytes, instance, Lan, nodeConfig, syncGroup, vip } from './helpers.js';

const ref = (name: string) => ({ name, reverse: false, loc: { file: '', line: 0, col: 0 } });

function members(prio: number, extra: Partial<VrrpInstance> = {}): VrrpInstance[] {
  return [
    instance({ name: 'VI_1', vrid: 51, priority: prio, syncGroup: 'VG', ...extra }),
    instance({ name: 'VI_2', vrid: 52, priority: prio, syncGroup: 'VG', virtualIps: [vip('10.99.0.200')], trackInterfaces: [ref('eth1')], ...extra }),
  ];
}

function groupNode(prio = 100, primary = '10.99.0.12', extra: Partial<VrrpInstance> = {}): VrrpNode {
  return new VrrpNode(
    nodeConfig(members(prio, extra), { syncGroups: { VG: syncGroup('VG', ['VI_1', 'VI_2'], { notify: { generic: '/n.sh' } }) } }),
    () => ({ primaryAddress: primary }),
  );
}

const groupLines = (a: NodeAction[]) =>
  a.filter((x) => x.type === 'notify' && x.group && x.notify.kind === 'fifo').map((x) => (x.type === 'notify' && x.notify.kind === 'fifo' ? x.notify.line : ''));
const states = (n: VrrpNode) => [n.instance('VI_1')!.state, n.instance('VI_2')!.state, n.group('VG')!.state];

describe('sync group', () => {
  it('notifies GROUP BACKUP once every member has started', () => {
    const n = groupNode();
    const a = n.start(0);
    expect(states(n)).toEqual(['BACKUP', 'BACKUP', 'BACKUP']);
    expect(groupLines(a)).toEqual(['GROUP "VG" BACKUP 0\n']);
    expect(a.find((x) => x.type === 'notify' && x.group && x.notify.kind === 'script')).toMatchObject({
      notify: { command: '/n.sh', args: ['GROUP', 'VG', 'BACKUP', '0'] },
    });
  });

  it('a member only goes MASTER when every member wants to; then all go together', () => {
    const n = groupNode();
    n.start(0);
    const t = n.instance('VI_1')!.deadlines.masterDown!;
    const a1 = n.timerFired('VI_1', 'masterDown', t);
    expect(states(n)).toEqual(['BACKUP', 'BACKUP', 'BACKUP']); // VI_2 does not want MASTER yet
    expect(n.instance('VI_1')!.wantMaster).toBe(true);
    expect(a1).toEqual([{ type: 'startTimer', instance: 'VI_1', timer: 'masterDown', at: t + 3609.375 }]);
    const a2 = n.timerFired('VI_2', 'masterDown', t);
    expect(states(n)).toEqual(['MASTER', 'MASTER', 'MASTER']);
    const changes = a2.filter((x) => x.type === 'stateChange');
    expect(changes.map((c) => c.type === 'stateChange' && `${c.instance}:${c.to}:${c.reason}`)).toEqual(['VI_2:MASTER:master-down', 'VI_1:MASTER:sync-group']);
    expect(groupLines(a2)).toEqual(['GROUP "VG" MASTER 0\n']);
    // keepalived order: every member's own notifies first, the group's last
    const fifo = a2.flatMap((x) => (x.type === 'notify' && x.notify.kind === 'fifo' ? [x.notify.line] : []));
    expect(fifo).toEqual(['INSTANCE "VI_2" MASTER 100\n', 'INSTANCE "VI_1" MASTER 100\n', 'GROUP "VG" MASTER 0\n']);
    expect(a2.filter((x) => x.type === 'transmit')).toHaveLength(2);
  });

  it('one member FAULT takes the whole group to FAULT (the MASTER resigns); recovery brings all back', () => {
    const n = groupNode();
    n.start(0);
    n.timerFired('VI_1', 'masterDown', 3609.375);
    n.timerFired('VI_2', 'masterDown', 3609.375);
    const f = n.setInterface('eth1', false, 5000);
    expect(states(n)).toEqual(['FAULT', 'FAULT', 'FAULT']);
    expect(f.filter((x) => x.type === 'transmit').map((x) => x.type === 'transmit' && `${x.instance}:${x.priority}`)).toEqual(['VI_2:0', 'VI_1:0']);
    expect(f.filter((x) => x.type === 'removeVips')).toHaveLength(2);
    expect(groupLines(f)).toEqual(['GROUP "VG" FAULT 0\n']);
    // VI_1's own trackers are fine, but it stays FAULT until the group recovers
    expect(n.instance('VI_1')!.ownFault).toBe('ok');
    const r = n.setInterface('eth1', true, 6000);
    expect(states(n)).toEqual(['BACKUP', 'BACKUP', 'BACKUP']);
    expect(groupLines(r)).toEqual(['GROUP "VG" BACKUP 0\n']);
  });

  it('a fault of one member at startup starts every member in FAULT', () => {
    const n = groupNode();
    n.setInterface('eth1', false, 0);
    const a = n.start(0);
    expect(states(n)).toEqual(['FAULT', 'FAULT', 'FAULT']);
    expect(groupLines(a)).toEqual(['GROUP "VG" FAULT 0\n']);
  });

  it('a member stepping down for a higher-priority peer takes the others to BACKUP', () => {
    const n = groupNode();
    n.start(0);
    n.timerFired('VI_1', 'masterDown', 3609.375);
    n.timerFired('VI_2', 'masterDown', 3609.375);
    const r = n.receiveIpv4('eth0', advertBytes({ vrid: 51, priority: 200, src: '10.99.0.13' }), 5000);
    expect(r.drop).toBeUndefined();
    expect(states(n)).toEqual(['BACKUP', 'BACKUP', 'BACKUP']);
    expect(groupLines(r.actions)).toEqual(['GROUP "VG" BACKUP 0\n']);
    const ch = r.actions.filter((x) => x.type === 'stateChange').map((x) => x.type === 'stateChange' && `${x.instance}:${x.reason}`);
    expect(ch).toEqual(['VI_1:higher-priority', 'VI_2:sync-group']);
  });

  it('shutdown: instances STOP, then GROUP STOP 0', () => {
    const n = groupNode();
    n.start(0);
    const a = n.shutdown(100);
    expect(states(n)).toEqual(['STOP', 'STOP', 'STOP']);
    expect(groupLines(a)).toEqual(['GROUP "VG" STOP 0\n']);
  });

  it('two directors with a sync group: the higher one wins both VRIDs; after its crash the other takes both', () => {
    const l = new Lan(
      new Map([
        ['a', groupNode(150, '10.99.0.11')],
        ['b', groupNode(100, '10.99.0.12')],
      ]),
    );
    l.start('a');
    l.start('b');
    l.run(10000);
    expect(states(l.nodes.get('a')!)).toEqual(['MASTER', 'MASTER', 'MASTER']);
    expect(states(l.nodes.get('b')!)).toEqual(['BACKUP', 'BACKUP', 'BACKUP']);
    const b = l.nodes.get('b')!;
    l.crash('a');
    l.run(20000);
    expect(states(b)).toEqual(['MASTER', 'MASTER', 'MASTER']);
    // both VRIDs moved within one Master_Down_Interval of each other
    const t = l.transitions().filter((x) => x.node === 'b' && x.to === 'MASTER').map((x) => x.at);
    expect(t).toHaveLength(2);
    expect(Math.abs(t[0]! - t[1]!)).toBeLessThan(1);
  });
});
