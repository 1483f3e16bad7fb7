// Whatever happens (partitions, crashes, restarts, faults), once the LAN is healthy again the
// routers converge to exactly one MASTER: the highest-priority healthy one (preempt is on).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VrrpNode } from '../../../src/vrrp/node.js';
import { instance, Lan, nodeConfig } from './helpers.js';

const disturbance = fc.oneof(
  fc.record({ kind: fc.constant('cut' as const), node: fc.nat(2) }),
  fc.record({ kind: fc.constant('heal' as const), node: fc.nat(2) }),
  fc.record({ kind: fc.constant('crash' as const), node: fc.nat(2) }),
  fc.record({ kind: fc.constant('stop' as const), node: fc.nat(2) }),
  fc.record({ kind: fc.constant('restart' as const), node: fc.nat(2) }),
  fc.record({ kind: fc.constant('linkdown' as const), node: fc.nat(2) }),
  fc.record({ kind: fc.constant('linkup' as const), node: fc.nat(2) }),
);

describe('convergence', () => {
  it('exactly one MASTER, the highest priority, after any disturbance heals', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 255 }), { minLength: 3, maxLength: 3 }),
        fc.constantFrom({ version: 2 as const, advertIntMs: 1000 }, { version: 3 as const, advertIntMs: 100 }),
        fc.array(fc.tuple(disturbance, fc.integer({ min: 0, max: 5000 })), { maxLength: 12 }),
        (prios, timing, events) => {
          const names = ['r0', 'r1', 'r2'];
          const mk = (i: number) =>
            new VrrpNode(nodeConfig([instance({ priority: prios[i]!, ...timing })]), () => ({ primaryAddress: `10.99.0.${11 + i}` }));
          const l = new Lan(new Map(names.map((n, i) => [n, mk(i)])));
          names.forEach((n) => l.start(n));
          for (const [d, dt] of events) {
            l.run(l.now + dt);
            const n = names[d.node]!;
            const node = l.nodes.get(n);
            if (d.kind === 'cut') l.cut.add(n);
            else if (d.kind === 'heal') l.cut.delete(n);
            else if (d.kind === 'crash') l.crash(n);
            else if (d.kind === 'stop' && node) {
              l.exec(n, node.shutdown(l.now));
              l.crash(n);
            } else if (d.kind === 'restart' && !node) {
              l.nodes.set(n, mk(d.node));
              l.start(n);
            } else if (d.kind === 'linkdown' && node) l.exec(n, node.setInterface('eth0', false, l.now));
            else if (d.kind === 'linkup' && node) l.exec(n, node.setInterface('eth0', true, l.now));
          }
          // heal everything: restart crashed routers, reconnect, links up
          for (const [i, n] of names.entries()) {
            l.cut.delete(n);
            if (!l.nodes.has(n)) {
              l.nodes.set(n, mk(i));
              l.start(n);
            } else l.exec(n, l.nodes.get(n)!.setInterface('eth0', true, l.now));
          }
          l.run(l.now + 30 * timing.advertIntMs + 10_000);
          const masters = names.filter((n) => l.nodes.get(n)!.instance('VI_1')!.state === 'MASTER');
          const best = names[prios.indexOf(Math.max(...prios))]!;
          expect(masters).toEqual([best]);
          for (const n of names) if (n !== best) expect(l.nodes.get(n)!.instance('VI_1')!.state).toBe('BACKUP');
        },
      ),
      { numRuns: 200 },
    );
  });
});
