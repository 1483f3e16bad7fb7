// Compile the takeover path before it is needed.
//
// V8 compiles a function on its first call. A BACKUP never runs the MASTER side of the state
// machine, the advert encoder, the GARP builder or the VIP netlink encoder, so all of that used
// to be compiled at the worst moment: right when the master-down timer fired. Measured in the
// failover benchmark (bench/failover) that cost ~0.6 ms before the first advert and ~1 ms more
// before the GARPs. A shadow VrrpNode of the same configuration (pure, sans-I/O: nothing is sent
// and nothing is changed) is driven BACKUP → MASTER → adverts → STOP once at startup, and the
// frame/message builders run on the configured addresses; the results are discarded.
import type { Config, VrrpInstance } from '../config/model.js';
import { VrrpNode } from '../vrrp/index.js';
import { buildGarp, buildUnsolicitedNa } from '../net/arp.js';
import { encodeDelAddr, encodeNewAddr } from '../net/rtnetlink/codec.js';
import { sockaddrIn, sockaddrIn6 } from '../net/sockaddr.js';

const WARM_MAC = '02:00:00:00:00:01';

/** Best effort: never throws (a warm-up must not keep the daemon from starting). */
export function warmVrrpPaths(cfg: Config): void {
  try {
    const ifaces = new Set<string>();
    for (const i of cfg.instances) {
      ifaces.add(i.interface);
      for (const t of i.trackInterfaces) ifaces.add(t.name);
    }
    // a few rounds: the later calls of a path run with type feedback
    for (let round = 0; round < 3; round++) {
      const node = new VrrpNode(cfg, (i: VrrpInstance) => ({ primaryAddress: i.unicastSrcIp ?? i.mcastSrcIp ?? (i.family === 'inet' ? '192.0.2.1' : 'fe80::1') }));
      let now = 1;
      for (const name of ifaces) node.setInterface(name, true, now);
      node.start(now);
      now += 100_000;
      for (const i of cfg.instances) {
        node.timerFired(i.name, 'masterDown', now);
        node.timerFired(i.name, 'advert', now + 1_000);
        node.timerFired(i.name, 'garp', now + 2_000);
      }
      for (const i of cfg.instances) {
        const ic = node.instanceConfig(i.name);
        for (const t of ic?.garpTargets ?? []) {
          if (t.family === 'inet') buildGarp({ mac: WARM_MAC, ip: t.address });
          else buildUnsolicitedNa({ mac: WARM_MAC, ip: t.address });
        }
        for (const v of [...i.virtualIps, ...i.virtualIpsExcluded]) {
          encodeNewAddr({ ifindex: 1, address: v.address, prefixLen: v.prefixLen });
          encodeDelAddr({ ifindex: 1, address: v.address, prefixLen: v.prefixLen });
        }
        for (const d of ic?.destinations ?? []) {
          if (i.family === 'inet') sockaddrIn(d);
          else sockaddrIn6(d);
        }
      }
      node.shutdown(now + 10_000);
    }
  } catch {
    // best effort only
  }
}
