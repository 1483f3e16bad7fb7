import { describe, expect, it } from 'vitest';
import { GarpSchedule, type GarpConfig, type GarpTarget } from '../../../src/vrrp/garp.js';
import { deletedState, fifoLine, groupNotifies, instanceNotifies, masterRxLowerPriNotify, priorityChangeNotify } from '../../../src/vrrp/notify.js';

const targets: GarpTarget[] = [
  { address: '10.99.0.100', family: 'inet', dev: 'eth0' },
  { address: '10.99.0.101', family: 'inet', dev: 'eth0' },
  { address: 'fd99::100', family: 'inet6', dev: 'eth0' },
];
const defaults: GarpConfig = {
  repeat: 5,
  delayMs: 5000,
  refreshMs: 0,
  refreshRepeat: 1,
  lowerPrioRepeat: 5,
  lowerPrioDelayMs: 5000,
  garpIntervalMs: 0,
  gnaIntervalMs: 0,
};

describe('GARP/NA schedule', () => {
  it('keepalived defaults: 5 back-to-back per VIP now, 5 more at +5 s, then nothing', () => {
    const g = new GarpSchedule(targets.slice(0, 1), defaults);
    g.becomeMaster(1000);
    const now = g.due(1000);
    expect(now).toHaveLength(5);
    expect(now.every((s) => s.at === 1000 && s.kind === 'garp' && s.dev === 'eth0')).toBe(true);
    expect(g.nextDeadline()).toBe(6000);
    expect(g.due(5999)).toEqual([]);
    expect(g.due(6000)).toHaveLength(5);
    expect(g.nextDeadline()).toBeUndefined();
  });

  it('burst order is repeat-major over the VIPs; IPv6 VIPs get NAs', () => {
    const g = new GarpSchedule(targets, { ...defaults, repeat: 2 });
    g.becomeMaster(0);
    expect(g.due(0).map((s) => `${s.kind}:${s.address}`)).toEqual([
      'garp:10.99.0.100',
      'garp:10.99.0.101',
      'na:fd99::100',
      'garp:10.99.0.100',
      'garp:10.99.0.101',
      'na:fd99::100',
    ]);
  });

  it('garp_interval / gna_interval space messages per interface and kind', () => {
    const g = new GarpSchedule(
      [...targets, { address: '10.0.1.1', family: 'inet', dev: 'eth1' }],
      { ...defaults, repeat: 2, delayMs: 0, garpIntervalMs: 10, gnaIntervalMs: 3 },
    );
    g.becomeMaster(0);
    const first = g.due(0);
    expect(first.map((s) => `${s.dev}:${s.address}`)).toEqual(['eth0:10.99.0.100', 'eth0:fd99::100', 'eth1:10.0.1.1']);
    expect(g.nextDeadline()).toBe(3);
    expect(g.due(3).map((s) => s.address)).toEqual(['fd99::100']);
    expect(g.due(10).map((s) => s.address)).toEqual(['10.99.0.101', '10.0.1.1']);
    expect(g.due(40).map((s) => `${s.at}:${s.address}`)).toEqual(['20:10.99.0.100', '30:10.99.0.101']);
    expect(g.nextDeadline()).toBeUndefined();
  });

  it('delay 0 means no second burst; repeat 0 sends nothing', () => {
    const g = new GarpSchedule(targets, { ...defaults, delayMs: 0, repeat: 0 });
    g.becomeMaster(0);
    expect(g.due(0)).toEqual([]);
    expect(g.nextDeadline()).toBeUndefined();
  });

  it('refresh: every garp_master_refresh, refresh_repeat each; no catch-up after a long sleep', () => {
    const g = new GarpSchedule(targets.slice(0, 1), { ...defaults, delayMs: 0, refreshMs: 60000, refreshRepeat: 2 });
    g.becomeMaster(0);
    g.due(0);
    expect(g.nextDeadline()).toBe(60000);
    expect(g.due(60000)).toHaveLength(2);
    expect(g.nextDeadline()).toBe(120000);
    expect(g.due(500000)).toHaveLength(2);
    expect(g.nextDeadline()).toBe(560000);
  });

  it('lower-priority burst and its delayed repeat; leaving MASTER cancels everything', () => {
    const g = new GarpSchedule(targets.slice(0, 1), { ...defaults, lowerPrioRepeat: 1, lowerPrioDelayMs: 2000 });
    g.becomeMaster(0);
    g.due(0);
    g.lowerPriorityAdvert(1000);
    expect(g.due(1000)).toHaveLength(1);
    expect(g.nextDeadline()).toBe(3000);
    g.reset();
    expect(g.nextDeadline()).toBeUndefined();
    expect(g.due(10000)).toEqual([]);
  });

  it('lower-priority repeat 0 disables both bursts', () => {
    const g = new GarpSchedule(targets.slice(0, 1), { ...defaults, lowerPrioRepeat: 0 });
    g.lowerPriorityAdvert(0);
    expect(g.due(0)).toEqual([]);
    expect(g.nextDeadline()).toBeUndefined();
  });
});

describe('notify formats (keepalived vrrp_notify.c)', () => {
  it('FIFO lines', () => {
    expect(fifoLine('INSTANCE', 'VI_1', 'MASTER', 100)).toBe('INSTANCE "VI_1" MASTER 100\n');
    expect(fifoLine('GROUP', 'VG', 'BACKUP', 0)).toBe('GROUP "VG" BACKUP 0\n');
    expect(masterRxLowerPriNotify('VI_1', 150)).toEqual([{ kind: 'fifo', line: 'INSTANCE "VI_1" MASTER_RX_LOWER_PRI 150\n' }]);
    expect(priorityChangeNotify('VI_1', true, 90)[0]).toEqual({ kind: 'fifo', line: 'INSTANCE "VI_1" MASTER_PRIORITY 90\n' });
    expect(priorityChangeNotify('VI_1', false, 90)[0]).toEqual({ kind: 'fifo', line: 'INSTANCE "VI_1" BACKUP_PRIORITY 90\n' });
  });

  it('state script first (no extra args), then the generic notify with 4 args, then the FIFO line', () => {
    const scripts = { master: '/etc/ka/to_master.sh "arg one"', generic: '/etc/ka/notify.sh', user: { user: 'ka' } };
    expect(instanceNotifies('VI_1', scripts, 'MASTER', 150)).toEqual([
      { kind: 'script', command: '/etc/ka/to_master.sh "arg one"', args: [], user: { user: 'ka' } },
      { kind: 'script', command: '/etc/ka/notify.sh', args: ['INSTANCE', 'VI_1', 'MASTER', '150'], user: { user: 'ka' } },
      { kind: 'fifo', line: 'INSTANCE "VI_1" MASTER 150\n' },
    ]);
    // no backup script configured: only the generic one and the FIFO
    expect(instanceNotifies('VI_1', scripts, 'BACKUP', 100).map((n) => n.kind)).toEqual(['script', 'fifo']);
  });

  it('groups report priority 0; STOP scripts get a 1 s wait', () => {
    const n = groupNotifies('VG', { generic: '/n.sh', stop: '/stop.sh' }, 'STOP');
    expect(n).toEqual([
      { kind: 'script', command: '/stop.sh', args: [], timeoutMs: 1000 },
      { kind: 'script', command: '/n.sh', args: ['GROUP', 'VG', 'STOP', '0'], timeoutMs: 1000 },
      { kind: 'fifo', line: 'GROUP "VG" STOP 0\n' },
    ]);
  });

  it('deleted instances: DELETED only with notify_deleted configured, else FAULT', () => {
    expect(deletedState({})).toBe('FAULT');
    expect(deletedState({ deleted: '' })).toBe('DELETED');
    expect(instanceNotifies('VI_1', { deleted: '', generic: '/n.sh' }, 'DELETED', 100)).toEqual([
      { kind: 'script', command: '/n.sh', args: ['INSTANCE', 'VI_1', 'DELETED', '100'] },
      { kind: 'fifo', line: 'INSTANCE "VI_1" DELETED 100\n' },
    ]);
  });
});
