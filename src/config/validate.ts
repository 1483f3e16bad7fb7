// Cross-element validation with keepalived's semantics, stricter where keepalived is lax.
// Problems that can be fixed up (a dangling reference dropped, a duplicate ignored) are
// errors; things that only look wrong on this host (a missing interface) are warnings.
import type { Config, TrackRef, VirtualServer } from './model.js';
import type { Diagnostics } from './diagnostics.js';

export interface ValidateOptions {
  /** does this interface exist on the host that runs the check? (warning when not) */
  interfaceExists?: (name: string) => boolean;
  /** data-plane restrictions for a virtual server (e.g. nftables cannot do wlc); each is an error */
  engineLimitations?: (vs: VirtualServer, cfg: Config) => string[];
}

export function validateConfig(cfg: Config, diags: Diagnostics, opts: ValidateOptions = {}): void {
  checkInstances(cfg, diags, opts);
  checkSyncGroups(cfg, diags);
  checkSyncDaemon(cfg, diags, opts);
  checkVirtualServers(cfg, diags, opts);
  checkScriptSecurity(cfg, diags);
}

function dropUnknownRefs(refs: TrackRef[], known: Record<string, unknown>, what: string, owner: string, diags: Diagnostics): TrackRef[] {
  return refs.filter((r) => {
    if (Object.prototype.hasOwnProperty.call(known, r.name)) return true;
    diags.error(r.loc, `${owner}: ${what} "${r.name}" is not defined; ignored`);
    return false;
  });
}

function checkInstances(cfg: Config, diags: Diagnostics, opts: ValidateOptions): void {
  const byVrid = new Map<string, string>();
  const vipOwner = new Map<string, string>();
  cfg.instances = cfg.instances.filter((inst) => {
    const key = `${inst.interface}/${inst.family}/${inst.vrid}`;
    const other = byVrid.get(key);
    if (other) {
      diags.error(inst.loc, `vrrp_instance ${inst.name}: VRID ${inst.vrid} is already used by ${other} on ${inst.interface} (${inst.family === 'inet' ? 'IPv4' : 'IPv6'}); instance ignored`);
      return false;
    }
    byVrid.set(key, inst.name);
    return true;
  });
  for (const inst of cfg.instances) {
    const owner = `vrrp_instance ${inst.name}`;
    inst.trackScripts = dropUnknownRefs(inst.trackScripts, cfg.vrrpScripts, 'track_script', owner, diags);
    inst.trackFiles = dropUnknownRefs(inst.trackFiles, cfg.trackFiles, 'track_file', owner, diags);
    if (opts.interfaceExists) {
      const exists = opts.interfaceExists;
      if (!exists(inst.interface)) diags.warning(inst.loc, `${owner}: interface ${inst.interface} does not exist on this host`);
      for (const t of inst.trackInterfaces) if (!exists(t.name)) diags.warning(t.loc, `${owner}: tracked interface ${t.name} does not exist on this host`);
      for (const v of [...inst.virtualIps, ...inst.virtualIpsExcluded]) {
        if (v.dev && !exists(v.dev)) diags.warning(v.loc, `${owner}: interface ${v.dev} of ${v.address} does not exist on this host`);
      }
    }
    for (const v of [...inst.virtualIps, ...inst.virtualIpsExcluded]) {
      const k = `${v.address}@${v.dev ?? inst.interface}`;
      const prev = vipOwner.get(k);
      if (prev && prev !== inst.name) diags.warning(v.loc, `${v.address} is also a virtual address of ${prev}: both instances would add and remove it`);
      else vipOwner.set(k, inst.name);
    }
  }
}

function checkSyncGroups(cfg: Config, diags: Diagnostics): void {
  const byName = new Map(cfg.instances.map((i) => [i.name, i]));
  for (const g of Object.values(cfg.syncGroups)) {
    g.members = g.members.filter((m) => {
      const inst = byName.get(m);
      if (!inst) {
        diags.error(g.loc, `vrrp_sync_group ${g.name}: member ${m} is not a defined vrrp_instance; ignored`);
        return false;
      }
      if (inst.syncGroup) {
        diags.error(g.loc, `vrrp_sync_group ${g.name}: ${m} already belongs to sync group ${inst.syncGroup}; ignored`);
        return false;
      }
      inst.syncGroup = g.name;
      return true;
    });
    if (g.members.length < 2) diags.warning(g.loc, `vrrp_sync_group ${g.name} has ${g.members.length} member${g.members.length === 1 ? '' : 's'}; a sync group needs two or more to mean anything`);
    g.trackScripts = dropUnknownRefs(g.trackScripts, cfg.vrrpScripts, 'track_script', `vrrp_sync_group ${g.name}`, diags);
    g.trackFiles = dropUnknownRefs(g.trackFiles, cfg.trackFiles, 'track_file', `vrrp_sync_group ${g.name}`, diags);
  }
}

function checkSyncDaemon(cfg: Config, diags: Diagnostics, opts: ValidateOptions): void {
  const d = cfg.global.lvsSyncDaemon;
  if (!d) return;
  if (d.instance !== undefined) {
    const inst = cfg.instances.find((i) => i.name === d.instance);
    if (!inst) {
      diags.error(d.loc, `lvs_sync_daemon: vrrp_instance ${d.instance} is not defined; sync daemon ignored`);
      delete cfg.global.lvsSyncDaemon;
      return;
    }
    d.syncId ??= inst.vrid;
  }
  if (opts.interfaceExists && !opts.interfaceExists(d.interface)) diags.warning(d.loc, `lvs_sync_daemon: interface ${d.interface} does not exist on this host`);
}

function checkVirtualServers(cfg: Config, diags: Diagnostics, opts: ValidateOptions): void {
  const seen = new Map<string, VirtualServer>();
  cfg.virtualServers = cfg.virtualServers.filter((vs) => {
    const prev = seen.get(vs.id);
    if (prev) {
      diags.error(vs.loc, `virtual server ${describeVs(vs)} is defined twice (first at line ${prev.loc.line}); ignored`);
      return false;
    }
    seen.set(vs.id, vs);
    return true;
  });
  for (const vs of cfg.virtualServers) {
    for (const rs of vs.realServers) {
      rs.checkers = rs.checkers.filter((ch) => {
        if (ch.type !== 'FILE_CHECK' || Object.prototype.hasOwnProperty.call(cfg.trackFiles, ch.trackFile)) return true;
        diags.error(ch.loc, `FILE_CHECK: track_file "${ch.trackFile}" is not defined; checker ignored`);
        return false;
      });
    }
    if (opts.engineLimitations) for (const m of opts.engineLimitations(vs, cfg)) diags.error(vs.loc, m);
  }
}

export function describeVs(vs: VirtualServer): string {
  const a = vs.address;
  if (a.kind === 'fwmark') return `fwmark ${a.fwmark}`;
  if (a.kind === 'group') return `group ${a.group}`;
  return `${a.family === 'inet6' ? `[${a.address}]` : a.address}:${a.port}/${vs.protocol}`;
}

function checkScriptSecurity(cfg: Config, diags: Diagnostics): void {
  if (cfg.global.enableScriptSecurity) return;
  const first =
    Object.values(cfg.vrrpScripts)[0]?.loc ??
    cfg.instances.find((i) => Object.values(i.notify).some((v) => typeof v === 'string'))?.loc ??
    cfg.virtualServers.find((v) => v.quorumUp || v.quorumDown || v.realServers.some((r) => r.notifyUp || r.notifyDown || r.checkers.some((c) => c.type === 'MISC_CHECK')))?.loc;
  if (first) diags.warning(first, 'scripts are configured but enable_script_security is not set (keepalived -t exits 5 for this too)');
}
