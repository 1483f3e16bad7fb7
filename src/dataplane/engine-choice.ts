// Which kernel data plane a configuration will get on this host, and what that engine cannot
// express: `lvsd check` reports those as errors up front instead of failing at apply time.
// Pure apart from reading /proc and /lib/modules (no netlink, so it works unprivileged).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config, DataplaneKind, VirtualServer } from '../config/model.js';
import { destFor, servicesFor } from '../lvs/specs.js';
import { nftablesLimitations } from './nftables/limitations.js';

/** Does this kernel have IPVS (loaded, or loadable as a module)? */
export function kernelHasIpvs(root = '/'): boolean {
  if (fs.existsSync(path.join(root, 'proc/net/ip_vs'))) return true;
  const mod = path.join(root, 'lib/modules', os.release());
  for (const f of ['modules.dep', 'modules.builtin']) {
    try {
      if (/(^|\/)ip_vs\.ko/m.test(fs.readFileSync(path.join(mod, f), 'utf8'))) return true;
    } catch {
      // no module index: not loadable
    }
  }
  return false;
}

export function effectiveDataplane(want: DataplaneKind, hasIpvs: () => boolean = () => kernelHasIpvs()): 'ipvs' | 'nftables' | 'none' {
  if (want === 'auto') return hasIpvs() ? 'ipvs' : 'nftables';
  return want;
}

/** engineLimitations for loadConfig: errors for what the chosen engine cannot do. */
export function engineLimitationsFor(hasIpvs: () => boolean = () => kernelHasIpvs()): (vs: VirtualServer, cfg: Config) => string[] {
  let engine: ReturnType<typeof effectiveDataplane> | undefined;
  return (vs, cfg) => {
    engine ??= effectiveDataplane(cfg.lvsd.dataplane, hasIpvs);
    if (engine !== 'nftables') return [];
    const { services } = servicesFor(vs, cfg);
    const out = new Set<string>();
    const why = cfg.lvsd.dataplane === 'auto' ? ' (dataplane auto chose nftables: this kernel has no IPVS)' : '';
    for (const svc of services) {
      const dests = vs.realServers.map((rs) => destFor(vs, rs, svc, rs.weight));
      for (const m of nftablesLimitations(svc, dests, { drDevice: cfg.instances[0]?.interface ?? null })) out.add(m + why);
    }
    return [...out];
  };
}
