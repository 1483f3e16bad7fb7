// keepalived's names for virtual and real servers, used in notify-FIFO lines and logs
// (check_data.c format_vs/format_rs, utils.c inet_sockaddrtotrio, ipwrapper.c notify_fifo_*):
//
//   VS by address   [10.0.0.1]:tcp:80           (IPv6: [fd00::1]:tcp:80)
//   VS by fwmark    FWM 5
//   VS by group     [NAME]:N   N = 0-based position of this VS among the virtual servers that use the
//                              same group, in config order (keepalived stores that sequence number in
//                              the VS port, link_vsg_to_vs)
//   RS              [10.0.0.5]:tcp:80          the protocol is the VS's: "none" for fwmark VSs and
//                                              for groups made only of fwmarks (keepalived resets the
//                                              protocol of those to 0)
//
// FIFO lines (no trailing newline here; the writer appends '\n' as keepalived does):
//   RS <rs> <vs> UP|DOWN
//   VS <vs> UP|DOWN
import type { Config, VirtualServer } from '../config/model.js';

function protoOf(vs: VirtualServer, cfg: Pick<Config, 'virtualServerGroups'>): string {
  const a = vs.address;
  if (a.kind === 'fwmark') return 'none';
  if (a.kind === 'group') {
    const g = cfg.virtualServerGroups[a.group];
    if (g && g.members.length > 0 && g.members.every((m) => m.kind === 'fwmark')) return 'none';
  }
  return vs.protocol.toLowerCase();
}

export function trio(address: string, proto: string, port: number): string {
  return `[${address}]:${proto}:${port}`;
}

/** Names of every virtual server and its real servers, computed once per config. */
export class LvsNames {
  private readonly vsName = new Map<string, string>();
  private readonly vsProto = new Map<string, string>();

  constructor(cfg: Pick<Config, 'virtualServers' | 'virtualServerGroups'>) {
    const groupSeq = new Map<string, number>();
    for (const vs of cfg.virtualServers) {
      const a = vs.address;
      let name: string;
      if (a.kind === 'ip') name = trio(a.address, vs.protocol.toLowerCase(), a.port);
      else if (a.kind === 'fwmark') name = `FWM ${a.fwmark}`;
      else {
        const n = groupSeq.get(a.group) ?? 0;
        groupSeq.set(a.group, n + 1);
        name = `[${a.group}]:${n}`;
      }
      this.vsName.set(vs.id, name);
      this.vsProto.set(vs.id, protoOf(vs, cfg));
    }
  }

  vs(vsId: string): string {
    return this.vsName.get(vsId) ?? vsId;
  }

  rs(vsId: string, rs: { address: string; port: number }): string {
    return trio(rs.address, this.vsProto.get(vsId) ?? 'none', rs.port);
  }
}

export function fifoRsLine(rsName: string, vsName: string, up: boolean): string {
  return `RS ${rsName} ${vsName} ${up ? 'UP' : 'DOWN'}`;
}

export function fifoVsLine(vsName: string, up: boolean): string {
  return `VS ${vsName} ${up ? 'UP' : 'DOWN'}`;
}
