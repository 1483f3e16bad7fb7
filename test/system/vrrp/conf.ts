// keepalived.conf text for the VRRP system tests. The same text is run by lvsd and by the real
// keepalived, so only keywords both understand appear here.
export interface InstanceSpec {
  name?: string;
  vrid: number;
  priority: number;
  /** seconds (v2: whole seconds) */
  advertInt: number;
  /** CIDRs; the VIP's family decides the instance's family */
  vips: string[];
  interface?: string;
  /** default BACKUP (nopreempt needs it; keepalived starts BACKUP anyway) */
  state?: 'MASTER' | 'BACKUP';
  nopreempt?: boolean;
  authPass?: string;
  unicast?: { src: string; peers: string[] };
  trackScripts?: { name: string; weight?: number }[];
  /** extra lines inside the instance block */
  extra?: string[];
}

export interface ScriptSpec {
  name: string;
  script: string;
  /** seconds */
  interval: number;
  weight?: number;
  fall?: number;
  rise?: number;
}

export interface ConfSpec {
  routerId: string;
  version: 2 | 3;
  instances: InstanceSpec[];
  scripts?: ScriptSpec[];
  syncGroups?: { name: string; members: string[] }[];
  /** extra global_defs lines */
  global?: string[];
}

export function vrrpConf(c: ConfSpec): string {
  const L: string[] = ['global_defs {', `    router_id ${c.routerId}`, `    vrrp_version ${c.version}`, ...(c.global ?? []).map((g) => `    ${g}`), '}'];
  for (const s of c.scripts ?? []) {
    L.push(`vrrp_script ${s.name} {`, `    script "${s.script}"`, `    interval ${s.interval}`);
    if (s.weight !== undefined) L.push(`    weight ${s.weight}`);
    if (s.fall !== undefined) L.push(`    fall ${s.fall}`);
    if (s.rise !== undefined) L.push(`    rise ${s.rise}`);
    L.push('}');
  }
  for (const g of c.syncGroups ?? []) L.push(`vrrp_sync_group ${g.name} {`, '    group {', ...g.members.map((m) => `        ${m}`), '    }', '}');
  for (const i of c.instances) {
    const dev = i.interface ?? 'eth0';
    L.push(
      `vrrp_instance ${i.name ?? 'VI_1'} {`,
      `    state ${i.state ?? 'BACKUP'}`,
      `    interface ${dev}`,
      `    virtual_router_id ${i.vrid}`,
      `    priority ${i.priority}`,
      `    advert_int ${i.advertInt}`,
    );
    if (i.nopreempt) L.push('    nopreempt');
    if (i.authPass) L.push('    authentication {', '        auth_type PASS', `        auth_pass ${i.authPass}`, '    }');
    if (i.unicast) L.push(`    unicast_src_ip ${i.unicast.src}`, '    unicast_peer {', ...i.unicast.peers.map((p) => `        ${p}`), '    }');
    if (i.trackScripts?.length)
      L.push('    track_script {', ...i.trackScripts.map((t) => `        ${t.name}${t.weight !== undefined ? ` weight ${t.weight}` : ''}`), '    }');
    L.push(...(i.extra ?? []).map((e) => `    ${e}`));
    L.push('    virtual_ipaddress {', ...i.vips.map((v) => `        ${v} dev ${dev}`), '    }', '}');
  }
  return `${L.join('\n')}\n`;
}

/** Master_Down_Interval and Skew_Time in ms (RFC 3768 for v2, RFC 5798 for v3, as keepalived). */
export function vrrpTimes(version: 2 | 3, priority: number, advertIntS: number): { skewMs: number; mdiMs: number } {
  const adv = advertIntS * 1000;
  const skewMs = version === 2 ? ((256 - priority) * 1000) / 256 : ((256 - priority) * adv) / 256;
  return { skewMs, mdiMs: 3 * adv + skewMs };
}
