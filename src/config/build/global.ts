// global_defs and lvsd_defs.
import type { FifoSpec, GlobalDefs, LvsdSettings } from '../model.js';
import type { Stmt } from '../tree.js';
import { fields, type Ctx, type Handlers } from './context.js';

export function defaultGlobals(): GlobalDefs {
  return {
    notificationEmail: [],
    smtpConnectTimeoutMs: 30_000,
    smtpAlert: false,
    smtpAlertVrrp: false,
    smtpAlertChecker: false,
    checkerLogAllFailures: false,
    enableScriptSecurity: false,
    fifoWriteVrrpStatesOnReload: false,
    vrrpNotifyPriorityChanges: false,
    vrrpMcastGroup4: '224.0.0.18',
    vrrpMcastGroup6: 'ff02::12',
    vrrpVersion: 2,
    vrrpStrict: false,
    vrrpCheckUnicastSrc: false,
    vrrpSkipCheckAdvAddr: false,
    vrrpGarpMasterDelayMs: 5000,
    vrrpGarpMasterRepeat: 5,
    vrrpGarpMasterRefreshMs: 0,
    vrrpGarpMasterRefreshRepeat: 1,
    vrrpGarpIntervalMs: 0,
    vrrpGnaIntervalMs: 0,
    vrrpMinGarp: false,
    vrrpDownTimerAdverts: 3,
    vrrpLowerPrioNoAdvert: false,
    vrrpHigherPrioSendAdvert: false,
    vrrpStartupDelayMs: 0,
    dynamicInterfaces: false,
    lvsFlush: false,
    lvsFlushOnStop: 'none',
    ignored: [],
  };
}

export function defaultLvsd(): LvsdSettings {
  return {
    dataplane: 'auto',
    nftTable: 'lvsd',
    reconcileIntervalMs: 5000,
    checkerIsolation: 'process',
  };
}

/** keepalived global_defs keywords that lvsd accepts but does not act on. */
export const IGNORED_GLOBAL = new Set([
  'enable_snmp_vrrp', 'enable_snmp_checker', 'enable_snmp_rfc', 'enable_snmp_rfcv2', 'enable_snmp_rfcv3',
  'enable_snmp_keepalived', 'enable_traps', 'snmp_socket', 'enable_dbus', 'dbus_service_name',
  'vrrp_priority', 'checker_priority', 'bfd_priority', 'checker_rt_priority',
  'bfd_rt_priority', 'vrrp_no_swap', 'checker_no_swap', 'bfd_no_swap', 'vrrp_cpu_affinity',
  'checker_cpu_affinity', 'bfd_cpu_affinity', 'max_auto_priority', 'min_auto_priority_delay',
  'vrrp_rlimit_rttime', 'checker_rlimit_rttime', 'bfd_rlimit_rttime', 'vmac_prefix', 'vmac_addr_prefix',
  'vrrp_iptables', 'vrrp_ipsets', 'nftables', 'nftables_priority', 'nftables_ifindex', 'nftables_counters',
  'nftables_ipvs', 'nftables_ipvs_start_fwmark', 'net_namespace', 'net_namespace_ipvs',
  'namespace_with_ipsets', 'instance', 'use_pid_dir', 'linkbeat_use_polling', 'vrrp_netlink_cmd_rcv_bufs',
  'vrrp_netlink_cmd_rcv_bufs_force', 'vrrp_netlink_monitor_rcv_bufs', 'vrrp_netlink_monitor_rcv_bufs_force',
  'lvs_netlink_cmd_rcv_bufs', 'lvs_netlink_cmd_rcv_bufs_force', 'lvs_netlink_monitor_rcv_bufs',
  'lvs_netlink_monitor_rcv_bufs_force', 'process_monitor_rcv_bufs', 'process_monitor_rcv_bufs_force',
  'vrrp_rx_bufs_policy', 'vrrp_rx_bufs_multiplier', 'log_unknown_vrids', 'vrrp_garp_extra_if',
  'child_wait_time', 'reload_check_config', 'reload_time_file', 'reload_repeat', 'reload_file',
  'config_save_dir', 'tmp_config_directory', 'include_check', 'data_use_instance', 'state_file_location',
  'stats_file_location', 'json_file_location', 'json_version', 'snmp_vs_stats_update_interval',
  'snmp_rs_stats_update_interval', 'rs_init_notifies', 'no_email_faults', 'no_checker_emails',
  'random_seed', 'disable_local_igmp', 'umask', 'checker_process_name', 'vrrp_process_name',
  'bfd_process_name', 'set_supplementary_groups', 'use_symlink_paths', 'lvs_sync_daemon_interface',
  'vrrp_delay_after_boot', 'vrrp_max_garp_burst', 'vrrp_garp_rep', 'notify_priority_changes',
]);

function fifo(s: Stmt, c: Ctx): FifoSpec | undefined {
  if (!c.arity(s, 1, 3)) return undefined;
  const spec: FifoSpec = { path: s.args[0]!.text };
  if (s.args[1]) spec.user = { user: s.args[1].text, ...(s.args[2] ? { group: s.args[2].text } : {}) };
  return spec;
}

function fifoScript(s: Stmt, g: GlobalDefs, key: 'notifyFifo' | 'vrrpNotifyFifo' | 'lvsNotifyFifo', c: Ctx): void {
  const sc = c.script(s);
  if (!sc) return;
  if (!g[key]) {
    c.diags.error(c.loc(s), `${s.name.text} used before (or without) its FIFO; ignored`);
    return;
  }
  g[key]!.script = sc.cmd;
  if (sc.user) g[key]!.user = sc.user;
}

const SYNC_KEYS = new Set(['id', 'maxlen', 'port', 'ttl', 'group', 'inst']);

const G = fields<GlobalDefs>();
const L = fields<LvsdSettings>();

export const globalHandlers: Handlers<GlobalDefs> = {
  router_id: G.str('routerId'),
  lvs_id: G.str('routerId'),
  notification_email: (s, g, c) => {
    for (const item of c.items(s)) g.notificationEmail.push(item.name.text, ...item.args.map((a) => a.text));
  },
  notification_email_from: G.str('notificationEmailFrom'),
  smtp_server: (s, g, c) => {
    if (!c.arity(s, 1, 2)) return;
    const port = s.args[1] ? c.port(s, 1) : 25;
    if (port !== undefined) g.smtpServer = { host: s.args[0]!.text, port };
  },
  smtp_helo_name: G.str('smtpHeloName'),
  smtp_connect_timeout: G.timer('smtpConnectTimeoutMs', 1, 3600),
  smtp_alert: G.flag('smtpAlert'),
  smtp_alert_vrrp: G.flag('smtpAlertVrrp'),
  smtp_alert_checker: G.flag('smtpAlertChecker'),
  checker_log_all_failures: G.flag('checkerLogAllFailures'),
  startup_script: (s, g, c) => {
    const sc = c.script(s);
    if (sc) g.startupScript = { path: sc.cmd, ...(sc.user ? { user: sc.user } : {}), timeoutMs: g.startupScript?.timeoutMs ?? 10_000 };
  },
  startup_script_timeout: (s, g, c) => {
    const v = c.timerStmt(s, 1, 1000);
    if (v === undefined) return;
    if (g.startupScript) g.startupScript.timeoutMs = v;
    else c.diags.error(c.loc(s), 'startup_script_timeout without startup_script; ignored');
  },
  shutdown_script: (s, g, c) => {
    const sc = c.script(s);
    if (sc) g.shutdownScript = { path: sc.cmd, ...(sc.user ? { user: sc.user } : {}), timeoutMs: g.shutdownScript?.timeoutMs ?? 10_000 };
  },
  shutdown_script_timeout: (s, g, c) => {
    const v = c.timerStmt(s, 1, 1000);
    if (v === undefined) return;
    if (g.shutdownScript) g.shutdownScript.timeoutMs = v;
    else c.diags.error(c.loc(s), 'shutdown_script_timeout without shutdown_script; ignored');
  },
  script_user: (s, g, c) => {
    if (!c.arity(s, 1, 2)) return;
    g.scriptUser = { user: s.args[0]!.text, ...(s.args[1] ? { group: s.args[1].text } : {}) };
  },
  enable_script_security: G.flag('enableScriptSecurity'),
  notify_fifo: (s, g, c) => {
    const f = fifo(s, c);
    if (f) g.notifyFifo = f;
  },
  notify_fifo_script: (s, g, c) => fifoScript(s, g, 'notifyFifo', c),
  vrrp_notify_fifo: (s, g, c) => {
    const f = fifo(s, c);
    if (f) g.vrrpNotifyFifo = f;
  },
  vrrp_notify_fifo_script: (s, g, c) => fifoScript(s, g, 'vrrpNotifyFifo', c),
  lvs_notify_fifo: (s, g, c) => {
    const f = fifo(s, c);
    if (f) g.lvsNotifyFifo = f;
  },
  lvs_notify_fifo_script: (s, g, c) => fifoScript(s, g, 'lvsNotifyFifo', c),
  fifo_write_vrrp_states_on_reload: G.flag('fifoWriteVrrpStatesOnReload'),
  vrrp_notify_priority_changes: G.flag('vrrpNotifyPriorityChanges'),
  vrrp_mcast_group4: (s, g, c) => {
    if (!c.arity(s, 1)) return;
    const ip = c.ip(s, 0, 'vrrp_mcast_group4', 'inet');
    if (!ip) return;
    const first = Number(ip.address.split('.')[0]);
    if (first < 224 || first > 239) c.diags.error(c.loc(s, 0), `vrrp_mcast_group4 ${ip.address} is not a multicast address`);
    else g.vrrpMcastGroup4 = ip.address;
  },
  vrrp_mcast_group6: (s, g, c) => {
    if (!c.arity(s, 1)) return;
    const ip = c.ip(s, 0, 'vrrp_mcast_group6', 'inet6');
    if (!ip) return;
    if (!ip.address.startsWith('ff')) c.diags.error(c.loc(s, 0), `vrrp_mcast_group6 ${ip.address} is not a multicast address`);
    else g.vrrpMcastGroup6 = ip.address;
  },
  vrrp_version: (s, g, c) => {
    const v = c.intStmt(s, 2, 3);
    if (v !== undefined) g.vrrpVersion = v as 2 | 3;
  },
  vrrp_strict: G.flag('vrrpStrict'),
  vrrp_check_unicast_src: G.flag('vrrpCheckUnicastSrc'),
  vrrp_skip_check_adv_addr: G.flag('vrrpSkipCheckAdvAddr'),
  vrrp_garp_master_delay: G.timer('vrrpGarpMasterDelayMs', 0, 1000),
  vrrp_garp_master_repeat: G.int('vrrpGarpMasterRepeat', 1, 255),
  vrrp_garp_lower_prio_delay: G.timer('vrrpGarpLowerPrioDelayMs', 0, 1000),
  vrrp_garp_lower_prio_repeat: G.int('vrrpGarpLowerPrioRepeat', 0, 255),
  vrrp_garp_master_refresh: G.timer('vrrpGarpMasterRefreshMs', 0, 86_400),
  vrrp_garp_master_refresh_repeat: G.int('vrrpGarpMasterRefreshRepeat', 1, 255),
  vrrp_garp_interval: G.timer('vrrpGarpIntervalMs', 0, 1),
  vrrp_gna_interval: G.timer('vrrpGnaIntervalMs', 0, 1),
  vrrp_min_garp: (s, g, c) => {
    const v = c.flag(s);
    if (v === undefined) return;
    g.vrrpMinGarp = v;
    // keepalived: one GARP at transition and no delayed burst
    if (v) {
      g.vrrpGarpMasterRepeat = 1;
      g.vrrpGarpMasterDelayMs = 0;
    }
  },
  vrrp_down_timer_adverts: G.int('vrrpDownTimerAdverts', 1, 100),
  vrrp_lower_prio_no_advert: G.flag('vrrpLowerPrioNoAdvert'),
  vrrp_higher_prio_send_advert: G.flag('vrrpHigherPrioSendAdvert'),
  vrrp_startup_delay: G.timer('vrrpStartupDelayMs', 0, 3600),
  vrrp_rt_priority: (s, g, c) => {
    // keepalived takes 1..99; lvsd also takes 0 to run the VRRP loop with normal scheduling
    const v = c.intStmt(s, 0, 99);
    if (v !== undefined) g.vrrpRtPriority = v;
  },
  dynamic_interfaces: (s, g, c) => {
    if (!c.arity(s, 0, 1)) return;
    g.dynamicInterfaces = true;
  },
  lvs_sync_daemon: (s, g, c) => {
    if (!c.arity(s, 1, 13)) return;
    const d: NonNullable<GlobalDefs['lvsSyncDaemon']> = { interface: s.args[0]!.text, loc: c.loc(s) };
    for (let i = 1; i < s.args.length; i++) {
      const w = s.args[i]!.text;
      if (!SYNC_KEYS.has(w)) {
        if (d.instance !== undefined) c.diags.error(c.loc(s, i), `lvs_sync_daemon: unexpected "${w}"`);
        else d.instance = w;
        continue;
      }
      if (i + 1 >= s.args.length) {
        c.diags.error(c.loc(s, i), `lvs_sync_daemon: ${w} needs a value`);
        break;
      }
      i++;
      switch (w) {
        case 'inst':
          d.instance = s.args[i]!.text;
          break;
        case 'id': {
          const v = c.int(s, i, 0, 255, 'lvs_sync_daemon id');
          if (v !== undefined) d.syncId = v;
          break;
        }
        case 'maxlen': {
          const v = c.int(s, i, 1, 65507, 'lvs_sync_daemon maxlen');
          if (v !== undefined) d.maxlen = v;
          break;
        }
        case 'port': {
          const v = c.int(s, i, 1, 65535, 'lvs_sync_daemon port');
          if (v !== undefined) d.port = v;
          break;
        }
        case 'ttl': {
          const v = c.int(s, i, 1, 255, 'lvs_sync_daemon ttl');
          if (v !== undefined) d.ttl = v;
          break;
        }
        case 'group': {
          const ip = c.ip(s, i, 'lvs_sync_daemon group');
          if (ip) d.group = ip.address;
          break;
        }
      }
    }
    g.lvsSyncDaemon = d;
  },
  lvs_timeouts: (s, g, c) => {
    if (s.args.length === 0 || s.args.length % 2 !== 0) {
      c.diags.error(c.loc(s), 'lvs_timeouts takes pairs: [tcp SECONDS] [tcpfin SECONDS] [udp SECONDS]');
      return;
    }
    const t: NonNullable<GlobalDefs['lvsTimeouts']> = {};
    for (let i = 0; i < s.args.length; i += 2) {
      const k = c.oneOf(s, i, ['tcp', 'tcpfin', 'udp'] as const, { what: 'lvs_timeouts' });
      const v = c.timer(s, i + 1, 1, 86_400 * 365, `lvs_timeouts ${s.args[i]!.text}`);
      if (k === undefined || v === undefined) continue;
      if (k === 'tcp') t.tcpMs = v;
      else if (k === 'tcpfin') t.tcpFinMs = v;
      else t.udpMs = v;
    }
    g.lvsTimeouts = t;
  },
  lvs_flush: (s, g, c) => {
    c.noArgs(s);
    g.lvsFlush = true;
  },
  lvs_flush_on_stop: (s, g, c) => {
    if (!c.arity(s, 0, 1)) return;
    if (s.args[0] && s.args[0].text !== 'VS') {
      c.diags.error(c.loc(s, 0), `lvs_flush_on_stop: unknown option "${s.args[0].text}" (expected VS or nothing)`);
      return;
    }
    g.lvsFlushOnStop = s.args[0] ? 'vs' : 'all';
  },
};

export const lvsdHandlers: Handlers<LvsdSettings> = {
  dataplane: (s, l, c) => {
    if (!c.arity(s, 1)) return;
    const v = c.oneOf(s, 0, ['auto', 'ipvs', 'nftables', 'none'] as const);
    if (v) l.dataplane = v;
  },
  nft_table: (s, l, c) => {
    const v = c.str(s);
    if (v === undefined) return;
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(v)) c.diags.error(c.loc(s, 0), `nft_table "${v}" is not a valid nftables table name`);
    else l.nftTable = v;
  },
  reconcile_interval: L.timer('reconcileIntervalMs', 0.1, 3600),
  control_socket: L.str('controlSocket'),
  metrics_listen: (s, l, c) => {
    const v = c.str(s);
    if (v === undefined) return;
    const m = /^(.*):(\d+)$/.exec(v);
    if (!m || Number(m[2]) > 65535) c.diags.error(c.loc(s, 0), `metrics_listen "${v}" is not HOST:PORT`);
    else l.metricsListen = v;
  },
  checker_isolation: (s, l, c) => {
    if (!c.arity(s, 1)) return;
    const v = c.oneOf(s, 0, ['process', 'worker'] as const);
    if (v) l.checkerIsolation = v;
  },
};
