import { describe, expect, it } from 'vitest';
import { clean, load, messages } from './helpers.js';

const SEC = 'global_defs {\n  enable_script_security\n}\n';

describe('global_defs', () => {
  it('reads identity, notification, VRRP defaults and LVS settings', () => {
    const c = clean(`global_defs {
  router_id dir1
  notification_email {
    ops@example.com
    noc@example.com
  }
  notification_email_from lvsd@example.com
  smtp_server 192.0.2.25 2525
  smtp_connect_timeout 12
  enable_script_security
  script_user nobody nogroup
  vrrp_notify_fifo /run/lvsd/vrrp.fifo
  vrrp_notify_fifo_script /usr/local/bin/fifo-reader.sh
  lvs_notify_fifo /run/lvsd/lvs.fifo
  vrrp_mcast_group4 224.0.0.19
  vrrp_mcast_group6 ff02::13
  vrrp_version 3
  vrrp_garp_master_delay 2.5
  vrrp_garp_master_repeat 3
  vrrp_garp_master_refresh 60
  vrrp_garp_interval 0.001
  vrrp_down_timer_adverts 5
  vrrp_startup_delay 1.5
  vrrp_rt_priority 5
  lvs_timeouts tcp 900 tcpfin 120 udp 300
  lvs_flush
  lvs_flush_on_stop VS
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
}
global_defs {
  lvs_sync_daemon eth1 VI_1 maxlen 1400 port 8849 ttl 2 group 224.0.0.82
}`);
    expect(c.global).toMatchObject({
      routerId: 'dir1',
      notificationEmail: ['ops@example.com', 'noc@example.com'],
      notificationEmailFrom: 'lvsd@example.com',
      smtpServer: { host: '192.0.2.25', port: 2525 },
      smtpConnectTimeoutMs: 12000,
      enableScriptSecurity: true,
      scriptUser: { user: 'nobody', group: 'nogroup' },
      vrrpNotifyFifo: { path: '/run/lvsd/vrrp.fifo', script: '/usr/local/bin/fifo-reader.sh' },
      lvsNotifyFifo: { path: '/run/lvsd/lvs.fifo' },
      vrrpMcastGroup4: '224.0.0.19',
      vrrpMcastGroup6: 'ff02::13',
      vrrpVersion: 3,
      vrrpGarpMasterDelayMs: 2500,
      vrrpGarpMasterRepeat: 3,
      vrrpGarpMasterRefreshMs: 60000,
      vrrpGarpIntervalMs: 1,
      vrrpDownTimerAdverts: 5,
      vrrpStartupDelayMs: 1500,
      vrrpRtPriority: 5,
      lvsTimeouts: { tcpMs: 900000, tcpFinMs: 120000, udpMs: 300000 },
      lvsFlush: true,
      lvsFlushOnStop: 'vs',
      lvsSyncDaemon: { interface: 'eth1', instance: 'VI_1', syncId: 51, maxlen: 1400, port: 8849, ttl: 2, group: '224.0.0.82' },
    });
    // the instance inherits the global VRRP defaults, wherever global_defs stands
    expect(c.instances[0]).toMatchObject({ version: 3, garpMasterDelayMs: 2500, garpMasterRepeat: 3, garpMasterRefreshMs: 60000, downTimerAdverts: 5 });
  });

  it('accepts known keepalived options it does not implement, with a warning', () => {
    const r = load('global_defs {\n  enable_snmp_vrrp\n  vrrp_iptables\n}\n');
    expect(messages(r)).toEqual([
      'main.conf:2:3 warning: enable_snmp_vrrp (in global_defs) is a keepalived option lvsd does not support; ignored',
      'main.conf:3:3 warning: vrrp_iptables (in global_defs) is a keepalived option lvsd does not support; ignored',
    ]);
    expect(r.exitCode).toBe(5);
  });
});

describe('lvsd_defs', () => {
  it('reads lvsd-only settings', () => {
    const c = clean('lvsd_defs {\n  dataplane nftables\n  nft_table lb0\n  reconcile_interval 2\n  control_socket /run/lvsd.sock\n  metrics_listen 127.0.0.1:9650\n  checker_isolation worker\n}\n');
    expect(c.lvsd).toMatchObject({ dataplane: 'nftables', nftTable: 'lb0', reconcileIntervalMs: 2000, controlSocket: '/run/lvsd.sock', metricsListen: '127.0.0.1:9650', checkerIsolation: 'worker' });
  });
  it('defaults', () => {
    expect(clean('').lvsd).toMatchObject({ dataplane: 'auto', nftTable: 'lvsd', reconcileIntervalMs: 5000, checkerIsolation: 'process' });
  });
  it('rejects bad values', () => {
    expect(messages(load('lvsd_defs {\n  dataplane magic\n  nft_table "bad name"\n}\n'))).toEqual([
      'main.conf:2:13 error: dataplane: unknown value "magic" (expected auto, ipvs, nftables, none)',
      'main.conf:3:13 error: nft_table "bad name" is not a valid nftables table name',
    ]);
  });
});

describe('vrrp_script and track_file', () => {
  it('reads all keys, with defaults', () => {
    const c = clean(`${SEC}vrrp_script chk_haproxy {
  script "killall -0 haproxy"
  interval 0.5
  timeout 2
  weight -20 reverse
  rise 3
  fall 2
  user nobody
  init_fail
}
vrrp_script chk_min {
  script /usr/bin/true
}
track_file tf1 {
  file /run/lvsd/prio
  weight -5
  init_file 10 overwrite
}`);
    expect(c.vrrpScripts['chk_haproxy']).toMatchObject({ script: 'killall -0 haproxy', intervalMs: 500, timeoutMs: 2000, weight: -20, weightReverse: true, rise: 3, fall: 2, user: { user: 'nobody' }, initFail: true });
    expect(c.vrrpScripts['chk_min']).toMatchObject({ intervalMs: 1000, timeoutMs: 1000, weight: 0, rise: 1, fall: 1, initFail: false });
    expect(c.trackFiles['tf1']).toMatchObject({ file: '/run/lvsd/prio', weight: -5, initFile: { value: 10, overwrite: true } });
  });
});

describe('vrrp_instance and vrrp_sync_group', () => {
  const base = `${SEC}vrrp_script chk { 
  script /bin/true
}
track_file tf {
  file /tmp/x
}
vrrp_sync_group VG {
  group {
    VI_1 VI_2
  }
  notify_master "/bin/echo group master"
  notify /bin/notify.sh
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 2
  nopreempt
  preempt_delay 30
  dont_track_primary
  mcast_src_ip 192.0.2.1
  track_interface {
    eth1 weight -10
    eth2
  }
  track_script {
    chk weight 5
  }
  track_file {
    tf weight -3 reverse
  }
  authentication {
    auth_type PASS
    auth_pass s3cret
  }
  virtual_ipaddress {
    192.0.2.100/24 dev eth0 label eth0:vip
    192.0.2.101
  }
  virtual_ipaddress_excluded {
    2001:db8::100/64 dev eth0
  }
  virtual_routes {
    10.0.0.0/8 via 192.0.2.254
  }
  garp_master_delay 1
  garp_master_repeat 2
  notify_master /bin/m.sh
  notify_backup "/bin/b.sh arg1"
  notify /bin/all.sh
  no_accept
}
vrrp_instance VI_2 {
  interface eth0
  virtual_router_id 52
  version 3
  advert_int 0.05
  unicast_src_ip 192.0.2.1
  unicast_peer {
    192.0.2.2 min_ttl 250
    192.0.2.3
  }
  virtual_ipaddress {
    192.0.2.200/32
  }
}
vrrp_instance VI_6 {
  interface eth0
  virtual_router_id 53
  virtual_ipaddress {
    2001:db8::1/64
  }
}`;
  it('reads every key', () => {
    const c = clean(base);
    const [i1, i2, i6] = c.instances;
    expect(i1).toMatchObject({
      name: 'VI_1', id: 'vrrp:eth0:inet:51', initialState: 'BACKUP', interface: 'eth0', vrid: 51, priority: 150,
      advertIntMs: 2000, version: 2, family: 'inet', preempt: false, preemptDelayMs: 30000, dontTrackPrimary: true,
      mcastSrcIp: '192.0.2.1', accept: false, auth: { type: 'PASS', password: 's3cret' },
      garpMasterDelayMs: 1000, garpMasterRepeat: 2,
      notify: { master: '/bin/m.sh', backup: '/bin/b.sh arg1', generic: '/bin/all.sh' }, syncGroup: 'VG',
    });
    expect(i1!.trackInterfaces.map((t) => [t.name, t.weight])).toEqual([['eth1', -10], ['eth2', undefined]]);
    expect(i1!.trackScripts).toMatchObject([{ name: 'chk', weight: 5 }]);
    expect(i1!.trackFiles).toMatchObject([{ name: 'tf', weight: -3, reverse: true }]);
    expect(i1!.virtualIps).toMatchObject([
      { address: '192.0.2.100', prefixLen: 24, dev: 'eth0', label: 'eth0:vip', key: '192.0.2.100/24@eth0' },
      { address: '192.0.2.101', prefixLen: 32, key: '192.0.2.101/32@eth0' },
    ]);
    expect(i1!.virtualIpsExcluded).toMatchObject([{ address: '2001:db8::100', family: 'inet6', prefixLen: 64 }]);
    expect(i1!.virtualRoutes.map((r) => r.text)).toEqual(['10.0.0.0/8 via 192.0.2.254']);
    expect(i2).toMatchObject({ version: 3, advertIntMs: 50, unicastSrcIp: '192.0.2.1', syncGroup: 'VG', preempt: true, accept: true, initialState: 'BACKUP', priority: 100 });
    expect(i2!.unicastPeers).toMatchObject([{ address: '192.0.2.2', minTtl: 250 }, { address: '192.0.2.3' }]);
    expect(i6).toMatchObject({ family: 'inet6', version: 3, id: 'vrrp:eth0:inet6:53' });
    expect(c.syncGroups['VG']).toMatchObject({ members: ['VI_1', 'VI_2'], notify: { master: '/bin/echo group master', generic: '/bin/notify.sh' } });
  });
  it('applies keepalived defaults', () => {
    const c = clean('vrrp_instance V {\n  interface eth0\n  virtual_router_id 1\n}\n');
    expect(c.instances[0]).toMatchObject({
      initialState: 'BACKUP', priority: 100, advertIntMs: 1000, version: 2, family: 'inet', preempt: true, preemptDelayMs: 0,
      accept: true, auth: { type: 'none' }, garpMasterDelayMs: 5000, garpMasterRepeat: 5, garpMasterRefreshMs: 0,
      garpIntervalMs: 0, downTimerAdverts: 3, unicastPeers: [],
    });
  });
  it('priority 255 makes the router the address owner', () => {
    const r = load('vrrp_instance V {\n  state BACKUP\n  interface eth0\n  virtual_router_id 1\n  priority 255\n}\n');
    expect(r.config!.instances[0]!.initialState).toBe('MASTER');
    expect(messages(r)).toEqual(['main.conf:5:12 warning: vrrp_instance V: priority 255 makes this router the address owner; it starts as MASTER despite state BACKUP']);
  });
  it('IPv6 forces VRRPv3', () => {
    const r = load('vrrp_instance V {\n  interface eth0\n  virtual_router_id 1\n  version 2\n  virtual_ipaddress {\n    fd00::1/64\n  }\n}\n');
    expect(r.config!.instances[0]!.version).toBe(3);
    expect(messages(r)).toEqual(['main.conf:4:11 error: vrrp_instance V: IPv6 needs VRRP version 3; using version 3']);
  });
  it('rounds v3 advert_int to 10 ms and v2 to whole seconds', () => {
    const r = load('vrrp_instance A {\n interface eth0\n virtual_router_id 1\n advert_int 1.4\n}\nvrrp_instance B {\n interface eth0\n virtual_router_id 2\n version 3\n advert_int 0.123\n}\n');
    expect(r.config!.instances.map((i) => i.advertIntMs)).toEqual([1000, 120]);
  });
  it('the same VRID may be used on another interface or address family', () => {
    const c = clean('vrrp_instance A {\n interface eth0\n virtual_router_id 1\n}\nvrrp_instance B {\n interface eth1\n virtual_router_id 1\n}\nvrrp_instance C {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  fd00::1\n }\n}\n');
    expect(c.instances).toHaveLength(3);
  });
  it('an instance in two sync groups is an error', () => {
    const r = load('vrrp_sync_group A {\n group {\n  V\n }\n}\nvrrp_sync_group B {\n group {\n  V\n }\n}\nvrrp_instance V {\n interface eth0\n virtual_router_id 1\n}\n');
    expect(messages(r)).toContain('main.conf:6:1 error: vrrp_sync_group B: V already belongs to sync group A; ignored');
  });
});

describe('virtual_server_group, virtual_server, real_server', () => {
  it('reads a full virtual server with every checker', () => {
    const c = clean(`${SEC}track_file maint {
  file /run/maint
}
virtual_server_group WEB {
  192.0.2.10-12 80
  192.0.2.50 443
  fwmark 7
}
virtual_server 192.0.2.100 80 {
  delay_loop 10
  lb_algo sh
  sh-port
  sh-fallback
  lb_kind DR
  persistence_timeout 600
  persistence_granularity 255.255.255.0
  protocol TCP
  virtualhost www.example.com
  alpha
  omega
  quorum 2
  hysteresis 1
  quorum_up "/bin/echo up"
  quorum_down /bin/down.sh
  sorry_server 192.0.2.200 8080
  sorry_server_inhibit
  inhibit_on_failure
  connect_timeout 4
  retry 2
  delay_before_retry 3
  warmup 0
  real_server 192.0.2.21 80 {
    weight 3
    uthreshold 100
    lthreshold 10
    notify_up /bin/up.sh
    notify_down /bin/down.sh
    HTTP_GET {
      url {
        path /healthz
        status_code 200 301-302
        digest 9e107d9d372bb6826bd81d3542a419d6
        regex "ok|healthy"
      }
      url {
        path /other
        virtualhost other.example.com
      }
      http_protocol 1.1
      connect_port 8080
      connect_timeout 2
    }
    SSL_GET {
      url {
        path /
      }
      enable_sni
      sni_name secure.example.com
    }
    TCP_CHECK {
      connect_ip 192.0.2.31
      bindto 192.0.2.1
      bind_port 40000
      retry 5
      delay_loop 2
    }
    SMTP_CHECK {
      helo_name lvsd.example.com
      connect_port 25
    }
    DNS_CHECK {
      type aaaa
      name www.example.com
      connect_port 53
    }
    MISC_CHECK {
      misc_path "/usr/local/bin/check.sh 192.0.2.21"
      misc_timeout 3
      misc_dynamic
      user nobody
    }
    UDP_CHECK {
      payload deadbeef
      require_reply deXXbeef
      min_reply_length 4
      connect_port 9000
    }
    PING_CHECK {
    }
    FILE_CHECK {
      track_file maint
      weight -10 reverse
    }
    NEGOTIATE_CHECK {
      service smtp
      receive "^220 "
    }
  }
  real_server 192.0.2.22 {
    lvs_method TUN type gue port 6080 csum
  }
}
virtual_server fwmark 5 {
  lb_algo mh
  mh-port
  real_server 192.0.2.21 0 {
  }
}
virtual_server group WEB {
  lb_algo rr
  real_server 192.0.2.21 80 {
  }
}
virtual_server 192.0.2.100 53 {
  protocol udp
  ops
  lb_algo rr
  lvsd_fullnat 10.0.0.1
  real_server 192.0.2.21 53 {
  }
}`);
    expect(c.virtualServerGroups['WEB']!.members).toMatchObject([
      { kind: 'addr', family: 'inet', address: '192.0.2.10', last: '192.0.2.12', port: 80 },
      { kind: 'addr', family: 'inet', address: '192.0.2.50', port: 443 },
      { kind: 'fwmark', fwmark: 7, family: 'inet' },
    ]);
    const [vs, fw, grp, udp] = c.virtualServers;
    expect(vs).toMatchObject({
      id: 'vs:TCP:[192.0.2.100]:80', scheduler: 'sh', schedFlags: { flag1: true, flag2: true }, lbKind: 'DR',
      persistenceTimeoutS: 600, persistenceGranularity: '255.255.255.0', virtualhost: 'www.example.com', omega: true,
      quorum: 2, hysteresis: 1, quorumUp: '/bin/echo up', quorumDown: '/bin/down.sh',
      sorryServer: { address: '192.0.2.200', port: 8080, inhibit: true },
      policy: { delayLoopMs: 10000, connectTimeoutMs: 4000, retry: 2, delayBeforeRetryMs: 3000, warmupMs: 0, alpha: true, inhibitOnFailure: true },
    });
    const rs = vs!.realServers[0]!;
    expect(rs).toMatchObject({ id: 'vs:TCP:[192.0.2.100]:80/rs:[192.0.2.21]:80', weight: 3, uthreshold: 100, lthreshold: 10, notifyUp: '/bin/up.sh' });
    expect(rs.checkers.map((ch) => ch.type)).toEqual(['HTTP_GET', 'SSL_GET', 'TCP_CHECK', 'SMTP_CHECK', 'DNS_CHECK', 'MISC_CHECK', 'UDP_CHECK', 'PING_CHECK', 'FILE_CHECK', 'NEGOTIATE_CHECK']);
    const [http, ssl, tcp, smtp, dns, misc, udpc, ping, file, neg] = rs.checkers;
    expect(http).toMatchObject({
      httpProtocol: '1.1', connectPort: 8080, connectTimeoutMs: 2000, delayLoopMs: 10000, retry: 2, delayBeforeRetryMs: 3000, alpha: true,
      virtualhost: 'www.example.com',
      urls: [
        { path: '/healthz', statusCodes: [[200, 200], [301, 302]], digest: '9e107d9d372bb6826bd81d3542a419d6', regex: 'ok|healthy' },
        { path: '/other', statusCodes: [[200, 299]], virtualhost: 'other.example.com' },
      ],
    });
    expect(ssl).toMatchObject({ type: 'SSL_GET', enableSni: true, sniName: 'secure.example.com', connectTimeoutMs: 4000 });
    expect(tcp).toMatchObject({ connectIp: '192.0.2.31', bindTo: '192.0.2.1', bindPort: 40000, retry: 5, delayLoopMs: 2000 });
    expect(smtp).toMatchObject({ heloName: 'lvsd.example.com', connectPort: 25 });
    expect(dns).toMatchObject({ queryType: 'AAAA', name: 'www.example.com', retry: 2 });
    expect(misc).toMatchObject({ path: '/usr/local/bin/check.sh 192.0.2.21', timeoutMs: 3000, dynamic: true, user: { user: 'nobody' } });
    expect(udpc).toMatchObject({ payload: 'deadbeef', requireReply: 'dexxbeef', minReplyLength: 4, connectPort: 9000 });
    expect(ping).toMatchObject({ type: 'PING_CHECK' });
    expect(file).toMatchObject({ trackFile: 'maint', weight: -10, weightReverse: true });
    expect(neg).toMatchObject({ service: 'smtp', receive: '^220 ', httpMethod: 'GET' });
    expect(vs!.realServers[1]).toMatchObject({ port: 80, lbKind: 'TUN', tunnel: { type: 'gue', port: 6080, csum: 'csum' }, weight: 1 });
    expect(fw).toMatchObject({ id: 'vs:fwmark:inet:5', scheduler: 'mh', schedFlags: { flag2: true, flag1: false }, lbKind: 'NAT' });
    expect(fw!.realServers[0]!.port).toBe(0);
    expect(grp).toMatchObject({ id: 'vs:group:WEB:TCP', address: { kind: 'group', group: 'WEB' } });
    expect(udp).toMatchObject({ protocol: 'UDP', schedFlags: { ops: true }, fullNatSource: '10.0.0.1' });
  });

  it('applies keepalived defaults and inheritance (checker > real server > virtual server)', () => {
    const c = clean(`global_defs {
  enable_script_security
}
virtual_server 10.0.0.1 80 {
  real_server 10.0.1.1 80 {
    delay_loop 7
    TCP_CHECK {
    }
    DNS_CHECK {
      connect_timeout 1
    }
    HTTP_GET {
      url {
        path /
      }
    }
    MISC_CHECK {
      misc_path /bin/true
    }
  }
}`);
    const vs = c.virtualServers[0]!;
    expect(vs).toMatchObject({ protocol: 'TCP', scheduler: 'wlc', lbKind: 'NAT', quorum: 1, hysteresis: 0, policy: { delayLoopMs: 60000, connectTimeoutMs: 5000, delayBeforeRetryMs: 1000, alpha: false, inhibitOnFailure: false } });
    const [tcp, dns, http, misc] = vs.realServers[0]!.checkers;
    // keepalived's per-type defaults (check_*.c)
    expect(tcp).toMatchObject({ delayLoopMs: 7000, connectTimeoutMs: 5000, retry: 1, delayBeforeRetryMs: 1000, warmupMs: 7000, alpha: false });
    expect(dns).toMatchObject({ connectTimeoutMs: 1000, retry: 3, delayBeforeRetryMs: 7000, queryType: 'SOA' });
    expect(http).toMatchObject({ retry: 1, delayBeforeRetryMs: 3000, httpProtocol: '1.0' });
    expect(misc).toMatchObject({ retry: 0, delayBeforeRetryMs: 1000, timeoutMs: 7000 });
    expect(vs.realServers[0]!.weight).toBe(1);
  });

  it('clamps quorum and hysteresis like keepalived', () => {
    const r = load('virtual_server 10.0.0.1 80 {\n  quorum 5\n  hysteresis 9\n  real_server 10.0.1.1 80 {\n    weight 2\n  }\n}\n');
    expect(r.config!.virtualServers[0]).toMatchObject({ quorum: 2, hysteresis: 1 });
    expect(r.exitCode).toBe(5);
  });

  it('a virtual server without real servers is dropped with a warning (keepalived)', () => {
    const r = load('virtual_server 10.0.0.1 80 {\n  lb_algo rr\n}\n');
    expect(r.config!.virtualServers).toHaveLength(0);
    expect(messages(r)).toEqual(['main.conf:1:1 warning: virtual server has no real servers; ignored (as keepalived)']);
  });

  it('stable identities do not depend on position', () => {
    const a = clean('virtual_server 10.0.0.1 80 {\n real_server 10.0.1.1 80 {\n }\n real_server 10.0.1.2 80 {\n }\n}\n');
    const b = clean('\n\nvirtual_server 10.0.0.1 80 {\n real_server 10.0.1.2 80 {\n weight 5\n }\n real_server 10.0.1.1 80 {\n }\n}\n');
    expect(a.virtualServers[0]!.id).toBe(b.virtualServers[0]!.id);
    expect(new Set(a.virtualServers[0]!.realServers.map((r) => r.id))).toEqual(new Set(b.virtualServers[0]!.realServers.map((r) => r.id)));
  });
});

describe('host and engine checks', () => {
  it('warns about interfaces that do not exist on this host', () => {
    const r = load('vrrp_instance V {\n  interface nosuch0\n  virtual_router_id 1\n  track_interface {\n    nosuch1\n  }\n}\n', {}, { interfaceExists: (n) => n === 'eth0' });
    expect(messages(r)).toEqual([
      'main.conf:1:1 warning: vrrp_instance V: interface nosuch0 does not exist on this host',
      'main.conf:5:5 warning: vrrp_instance V: tracked interface nosuch1 does not exist on this host',
    ]);
  });
  it('reports data-plane limitations as errors at the virtual server', () => {
    const r = load('virtual_server 10.0.0.1 80 {\n  lb_algo wlc\n  real_server 10.0.1.1 80 {\n  }\n}\n', {}, {
      engineLimitations: (vs) => (vs.scheduler === 'wlc' ? ['scheduler wlc needs connection counts, which nftables does not keep'] : []),
    });
    expect(messages(r)).toEqual(['main.conf:1:1 error: scheduler wlc needs connection counts, which nftables does not keep']);
  });
});
