// Runs INSIDE the IPVS VM (root, real 6.1 kernel): every kernel-facing IPVS engine case in one
// boot. Prints one `@@CASE {name, expected, actual, error?}` line per case; the host test
// (test/system/ipvs/ipvs-kernel.test.ts) asserts them. Expected values are written out by hand
// here from the desired configuration and what ipvsadm 1.31 prints for it.
import { execFileSync } from 'node:child_process';
import { IpvsEngine } from '../../../src/dataplane/ipvs/engine.js';
import { destKey, serviceKey, type DestSpec, type Op, type ServiceSpec, type TableState } from '../../../src/dataplane/types.js';

interface CaseOut {
  name: string;
  expected?: unknown;
  actual?: unknown;
  /** extra information shown on the host, not compared */
  note?: unknown;
  error?: string;
  ms: number;
}

function report(c: CaseOut): void {
  process.stdout.write(`@@CASE ${JSON.stringify(c)}\n`);
}

async function kase(name: string, fn: () => Promise<{ expected: unknown; actual: unknown; note?: unknown }>): Promise<void> {
  const t0 = performance.now();
  try {
    const r = await fn();
    report({ name, expected: r.expected, actual: r.actual, note: r.note, ms: Math.round(performance.now() - t0) });
  } catch (e) {
    report({ name, error: (e as Error).stack ?? String(e), ms: Math.round(performance.now() - t0) });
  }
}

/** Run a bash command; its stdout (throws with stderr when it fails). */
function sh(cmd: string): string {
  return execFileSync('bash', ['-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const lines = (s: string): string[] => s.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');
const sorted = (a: string[]): string[] => [...a].sort();

/** `ipvsadm -Sn`, one rule per line, sorted (the kernel's listing order is its hash order). */
const save = (): string[] => sorted(lines(sh('ipvsadm -Sn')));

/**
 * An `ipvsadm -L...` listing normalised: header lines as printed, then each service line
 * followed by its destination lines, destinations sorted, services sorted.
 */
function listing(args: string): string[] {
  const ls = lines(sh(`ipvsadm ${args}`));
  const first = ls.findIndex((l) => /^(TCP|UDP|SCTP|FWM) /.test(l));
  if (first < 0) return ls;
  const blocks: string[][] = [];
  for (const l of ls.slice(first)) {
    if (l.startsWith('  ->')) blocks[blocks.length - 1]!.push(l);
    else blocks.push([l]);
  }
  return [...ls.slice(0, first), ...blocks.map(([h, ...d]) => [h!, ...sorted(d)]).sort((a, b) => (a[0]! < b[0]! ? -1 : 1)).flat()];
}

function expectListing(header: string[], blocks: string[][]): string[] {
  return [...header, ...blocks.map(([h, ...d]) => [h!, ...sorted(d)]).sort((a, b) => (a[0]! < b[0]! ? -1 : 1)).flat()];
}

const pad = (s: string | number, n: number): string => String(s).padEnd(n);
/** a destination line of `ipvsadm -Ln` */
const ln = (addr: string, fwd: 'Masq' | 'Route' | 'Tunnel', w: number): string => `  -> ${pad(addr, 28)} ${pad(fwd, 7)} ${pad(w, 6)} ${pad(0, 10)} 0`;
/** ... of `ipvsadm -Ln --thresholds` */
const lt = (addr: string, u: number, l: number): string => `  -> ${pad(addr, 28)} ${pad(u, 10)} ${pad(l, 10)} ${pad(0, 10)} 0`;
/** ... of `ipvsadm -Ln --tun-info` */
const li = (addr: string, fwd: 'Masq' | 'Route' | 'Tunnel', info: string, w: number): string =>
  `  -> ${pad(addr, 28)} ${pad(fwd, 7)} ${pad(info, 13)} ${pad(w, 6)} ${pad(0, 10)} 0`;

const HDR_VERSION = 'IP Virtual Server version 1.2.1 (size=4096)';
const HDR_LN = [HDR_VERSION, 'Prot LocalAddress:Port Scheduler Flags', '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn'];

// ---- desired configuration -----------------------------------------------------------------

const F0 = { persistent: false, onePacket: false, sched1: false, sched2: false, sched3: false };

function svc(p: Partial<ServiceSpec>): ServiceSpec {
  const s: ServiceSpec = { key: '', family: 'inet', scheduler: 'wlc', flags: F0, timeoutS: 0, netmask: p.family === 'inet6' ? '128' : '255.255.255.255', ...p };
  s.key = serviceKey(s);
  return s;
}

function dest(p: Partial<DestSpec> & { address: string }): DestSpec {
  const d: DestSpec = { key: '', family: p.address.includes(':') ? 'inet6' : 'inet', port: 80, fwd: 'NAT', weight: 1, uThreshold: 0, lThreshold: 0, ...p };
  d.key = destKey(d);
  return d;
}

const A = svc({ protocol: 'TCP', address: '10.0.0.1', port: 80, scheduler: 'wlc' });
const B = svc({ protocol: 'TCP', address: '10.0.0.1', port: 443, scheduler: 'wrr', flags: { ...F0, persistent: true }, timeoutS: 300, netmask: '255.255.255.0' });
const C = svc({ family: 'inet6', protocol: 'UDP', address: '2001:db8::1', port: 53, scheduler: 'sh', flags: { ...F0, sched1: true, sched2: true } });
const D = svc({ protocol: 'SCTP', address: '10.0.0.7', port: 3868, scheduler: 'lc' });
const E = svc({ fwmark: 42, scheduler: 'mh', flags: { ...F0, sched1: true, sched2: true } });
const F = svc({ family: 'inet6', fwmark: 43, scheduler: 'rr', flags: { ...F0, persistent: true }, timeoutS: 60, netmask: '64' });
const G = svc({ protocol: 'UDP', address: '10.0.0.1', port: 5060, scheduler: 'rr', flags: { ...F0, persistent: true, onePacket: true }, timeoutS: 120, peName: 'sip' });
const SCHEDS = ['lblc', 'lblcr', 'dh', 'sed', 'nq', 'fo', 'ovf'] as const;
const H = SCHEDS.map((s, i) => svc({ protocol: 'TCP', address: '10.0.2.1', port: 1 + i, scheduler: s }));

const INITIAL: [ServiceSpec, DestSpec[]][] = [
  [
    A,
    [
      dest({ address: '10.0.0.2', weight: 5 }),
      dest({ address: '10.0.0.3', fwd: 'DR' }),
      dest({ address: '10.0.0.4', fwd: 'TUN', weight: 2, uThreshold: 1000, lThreshold: 100, tunnel: { type: 'ipip' } }),
      dest({ address: '10.0.0.5', fwd: 'TUN', tunnel: { type: 'gue', port: 6080, csum: 'remcsum' } }),
      dest({ address: '10.0.0.6', fwd: 'TUN', tunnel: { type: 'gre', csum: 'csum' } }),
      dest({ address: '2001:db8::9', fwd: 'TUN', tunnel: { type: 'ipip' } }),
    ],
  ],
  [B, [dest({ address: '10.0.0.2', port: 443, weight: 3 }), dest({ address: '10.0.0.3', port: 443, weight: 0 })]],
  [C, [dest({ address: '2001:db8::2', port: 53 }), dest({ address: '2001:db8::3', port: 53, fwd: 'DR', weight: 2 })]],
  [D, [dest({ address: '10.0.0.8', port: 3868 })]],
  [E, [dest({ address: '10.0.0.9', port: 0, fwd: 'DR' }), dest({ address: '10.0.0.10', port: 0, fwd: 'DR', weight: 4 })]],
  [F, [dest({ address: '2001:db8::7', port: 0, fwd: 'DR' })]],
  [G, [dest({ address: '10.0.0.12', port: 5060 })]],
  ...H.map((h): [ServiceSpec, DestSpec[]] => [h, [dest({ address: '10.0.3.1', weight: 2 })]]),
];

function table(entries: [ServiceSpec, DestSpec[]][]): TableState {
  return new Map(entries.map(([s, ds]) => [s.key, { svc: s, dests: new Map(ds.map((d) => [d.key, d])) }]));
}

function addOps(entries: [ServiceSpec, DestSpec[]][]): Op[] {
  return entries.flatMap(([s, ds]): Op[] => [{ op: 'add-service', svc: s }, ...ds.map((d): Op => ({ op: 'add-dest', svc: s, dest: d }))]);
}

/** TableState as sorted plain data, for deep comparison. */
function plain(t: TableState): unknown {
  return [...t.values()]
    .map((s) => ({ svc: s.svc, dests: [...s.dests.values()].sort((a, b) => (a.key < b.key ? -1 : 1)) }))
    .sort((a, b) => (a.svc.key < b.svc.key ? -1 : 1))
    .map((x) => JSON.parse(JSON.stringify(x)) as unknown);
}

const diff = (before: string[], after: string[]) => ({
  removed: before.filter((l) => !after.includes(l)),
  added: after.filter((l) => !before.includes(l)),
});

// ---- the cases ---------------------------------------------------------------------------------

async function main(): Promise<void> {
  sh('ip link set eth0 up && ip addr add 192.168.100.1/24 dev eth0');
  const e = await IpvsEngine.open();

  await kase('info', async () => ({
    expected: { version: '1.2.1', versionCode: 0x010201, connTableSize: 4096, header: HDR_VERSION },
    actual: { ...(await e.info()), header: lines(sh('ipvsadm -Ln'))[0] },
  }));

  await kase('timeouts', async () => {
    const before = await e.getTimeouts();
    const beforeText = lines(sh('ipvsadm -L --timeout'));
    await e.setTimeouts({ tcpMs: 900_000, tcpFinMs: 120_000, udpMs: 300_000 });
    const set = { text: lines(sh('ipvsadm -L --timeout')), got: await e.getTimeouts() };
    await e.setTimeouts({ udpMs: 45_000 }); // the others stay
    const partial = { text: lines(sh('ipvsadm -L --timeout')), got: await e.getTimeouts() };
    return {
      expected: {
        before: { got: { tcpMs: 900_000, tcpFinMs: 120_000, udpMs: 300_000 }, text: ['Timeout (tcp tcpfin udp): 900 120 300'] },
        set: { text: ['Timeout (tcp tcpfin udp): 900 120 300'], got: { tcpMs: 900_000, tcpFinMs: 120_000, udpMs: 300_000 } },
        partial: { text: ['Timeout (tcp tcpfin udp): 900 120 45'], got: { tcpMs: 900_000, tcpFinMs: 120_000, udpMs: 45_000 } },
      },
      actual: { before: { got: before, text: beforeText }, set, partial },
    };
  });

  await kase('sync-daemons', async () => {
    await e.startDaemon({ state: 'master', interface: 'eth0', syncId: 5 });
    await e.startDaemon({ state: 'backup', interface: 'eth0', syncId: 7, maxlen: 1400, group: '224.0.0.82', port: 8849, ttl: 2 });
    const running = { text: lines(sh('ipvsadm -L --daemon')), list: await e.listDaemons() };
    let again = '';
    await e.startDaemon({ state: 'master', interface: 'eth0', syncId: 5 }).catch((x: Error) => (again = x.message));
    await e.stopDaemon('master');
    const oneLeft = lines(sh('ipvsadm -L --daemon'));
    await e.stopDaemon('backup');
    let stopAgain = '';
    await e.stopDaemon('backup').catch((x: Error) => (stopAgain = x.message));
    return {
      expected: {
        running: {
          text: [
            'master sync daemon (mcast=eth0, syncid=5, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)',
            'backup sync daemon (mcast=eth0, syncid=7, maxlen=1400, group=224.0.0.82, port=8849, ttl=2)',
          ],
          list: [
            { state: 'master', interface: 'eth0', syncId: 5, maxlen: 1472, group: '224.0.0.81', port: 8848, ttl: 1 },
            { state: 'backup', interface: 'eth0', syncId: 7, maxlen: 1400, group: '224.0.0.82', port: 8849, ttl: 2 },
          ],
        },
        again: 'start master sync daemon on eth0 (syncid 5): File already exists (EEXIST) — a master sync daemon is already running',
        oneLeft: ['backup sync daemon (mcast=eth0, syncid=7, maxlen=1400, group=224.0.0.82, port=8849, ttl=2)'],
        after: [],
        stopAgain: 'stop backup sync daemon: No such process (ESRCH) — no backup sync daemon is running',
      },
      actual: { running, again, oneLeft, after: lines(sh('ipvsadm -L --daemon')), stopAgain },
    };
  });

  await kase('apply-initial', async () => {
    const ops = addOps(INITIAL);
    const r = await e.apply(ops);
    return {
      expected: {
        result: { applied: ops.length, failed: [] },
        save: sorted([
          '-A -t 10.0.0.1:80 -s wlc',
          '-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 5',
          '-a -t 10.0.0.1:80 -r 10.0.0.3:80 -g -w 1',
          '-a -t 10.0.0.1:80 -r 10.0.0.4:80 -i -w 2 --tun-type ipip',
          '-a -t 10.0.0.1:80 -r 10.0.0.5:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-remcsum',
          '-a -t 10.0.0.1:80 -r 10.0.0.6:80 -i -w 1 --tun-type gre --tun-csum',
          '-a -t 10.0.0.1:80 -r [2001:db8::9]:80 -i -w 1 --tun-type ipip',
          '-A -t 10.0.0.1:443 -s wrr -p 300 -M 255.255.255.0',
          '-a -t 10.0.0.1:443 -r 10.0.0.2:443 -m -w 3',
          '-a -t 10.0.0.1:443 -r 10.0.0.3:443 -m -w 0',
          '-A -u [2001:db8::1]:53 -s sh -b sh-fallback,sh-port',
          '-a -u [2001:db8::1]:53 -r [2001:db8::2]:53 -m -w 1',
          '-a -u [2001:db8::1]:53 -r [2001:db8::3]:53 -g -w 2',
          '-A --sctp-service 10.0.0.7:3868 -s lc',
          '-a --sctp-service 10.0.0.7:3868 -r 10.0.0.8:3868 -m -w 1',
          '-A -f 42 -s mh -b mh-fallback,mh-port',
          '-a -f 42 -r 10.0.0.9:0 -g -w 1',
          '-a -f 42 -r 10.0.0.10:0 -g -w 4',
          '-A -f 43 -6 -s rr -p 60 -M 64',
          '-a -f 43 -6 -r [2001:db8::7]:0 -g -w 1',
          '-A -u 10.0.0.1:5060 -s rr -p 120 --pe sip -o',
          '-a -u 10.0.0.1:5060 -r 10.0.0.12:5060 -m -w 1',
          ...H.flatMap((h) => [`-A -t 10.0.2.1:${h.port} -s ${h.scheduler}`, `-a -t 10.0.2.1:${h.port} -r 10.0.3.1:80 -m -w 2`]),
        ]),
        list: expectListing(HDR_LN, [
          [
            'TCP  10.0.0.1:80 wlc',
            ln('10.0.0.2:80', 'Masq', 5),
            ln('10.0.0.3:80', 'Route', 1),
            ln('10.0.0.4:80', 'Tunnel', 2),
            ln('10.0.0.5:80', 'Tunnel', 1),
            ln('10.0.0.6:80', 'Tunnel', 1),
            ln('[2001:db8::9]:80', 'Tunnel', 1),
          ],
          ['TCP  10.0.0.1:443 wrr persistent 300 mask 255.255.255.0', ln('10.0.0.2:443', 'Masq', 3), ln('10.0.0.3:443', 'Masq', 0)],
          ['UDP  [2001:db8::1]:53 sh (sh-fallback,sh-port)', ln('[2001:db8::2]:53', 'Masq', 1), ln('[2001:db8::3]:53', 'Route', 2)],
          ['SCTP 10.0.0.7:3868 lc', ln('10.0.0.8:3868', 'Masq', 1)],
          ['FWM  42 mh (mh-fallback,mh-port)', ln('10.0.0.9:0', 'Route', 1), ln('10.0.0.10:0', 'Route', 4)],
          ['FWM  43 IPv6 rr persistent 60 mask 64', ln('[2001:db8::7]:0', 'Route', 1)],
          ['UDP  10.0.0.1:5060 rr persistent 120 pe sip ops', ln('10.0.0.12:5060', 'Masq', 1)],
          ...H.map((h) => [`TCP  10.0.2.1:${h.port} ${h.scheduler}`, ln('10.0.3.1:80', 'Masq', 2)]),
        ]),
        thresholds: lt('10.0.0.4:80', 1000, 100),
        tunInfo: [
          li('10.0.0.4:80', 'Tunnel', 'ipip', 2),
          li('10.0.0.5:80', 'Tunnel', 'gue:6080:r+c', 1), // ipvsadm's notation for remote checksum (-S says --tun-remcsum)
          li('10.0.0.6:80', 'Tunnel', 'gre:+c', 1),
          li('[2001:db8::9]:80', 'Tunnel', 'ipip', 1),
          li('10.0.0.2:80', 'Masq', 'n/a', 5),
        ].sort(),
      },
      actual: {
        result: r,
        save: save(),
        list: listing('-Ln'),
        thresholds: listing('-Ln --thresholds').find((l) => l.startsWith('  -> 10.0.0.4:80 ')),
        tunInfo: listing('-Ln --tun-info')
          .filter((l) => /^ {2}-> (10\.0\.0\.[2-6]|\[2001:db8::9\]):80 /.test(l) && !l.includes('10.0.0.3:80'))
          .sort(),
      },
    };
  });

  await kase('observe-roundtrip', async () => ({ expected: plain(table(INITIAL)), actual: plain(await e.observe()) }));

  await kase('observe-foreign', async () => {
    // entries made by someone else (ipvsadm) read back exactly
    sh('ipvsadm -A -t 10.9.0.1:80 -s lblcr -p 100 -M 255.255.0.0 && ipvsadm -a -t 10.9.0.1:80 -r 10.9.0.2:8080 -m -w 9 -x 20 -y 10');
    sh('ipvsadm -A -f 7 -6 -s sh -b sh-port -o && ipvsadm -a -f 7 -6 -r [fd00::2]:0 -i --tun-type gue --tun-port 5555 --tun-csum -w 3');
    const t = await e.observe();
    sh('ipvsadm -D -t 10.9.0.1:80 && ipvsadm -D -f 7 -6');
    const s1 = svc({ protocol: 'TCP', address: '10.9.0.1', port: 80, scheduler: 'lblcr', flags: { ...F0, persistent: true }, timeoutS: 100, netmask: '255.255.0.0' });
    const s2 = svc({ family: 'inet6', fwmark: 7, scheduler: 'sh', flags: { ...F0, sched2: true, onePacket: true } });
    return {
      expected: plain(
        table([
          [s1, [dest({ address: '10.9.0.2', port: 8080, weight: 9, uThreshold: 20, lThreshold: 10 })]],
          [s2, [dest({ address: 'fd00::2', port: 0, fwd: 'TUN', weight: 3, tunnel: { type: 'gue', port: 5555, csum: 'csum' } })]],
        ]),
      ),
      actual: plain(new Map([...t].filter(([k]) => k === s1.key || k === s2.key))),
    };
  });

  const CHANGED: [ServiceSpec, DestSpec[]][] = INITIAL.filter(([s]) => s !== G).map(([s, ds]): [ServiceSpec, DestSpec[]] => {
    if (s === A) return [s, [dest({ address: '10.0.0.2', weight: 7 }), ...ds.filter((d) => !['10.0.0.2', '10.0.0.3', '2001:db8::9'].includes(d.address))]];
    if (s === B) return [{ ...B, scheduler: 'lc' }, ds];
    if (s === C) return [{ ...C, flags: F0 }, ds];
    if (s === D) return [s, [...ds, dest({ address: '10.0.0.11', port: 3868, weight: 2 })]];
    if (s === E) return [s, [ds[0]!, dest({ address: '10.0.0.10', port: 0, fwd: 'DR', weight: 0, uThreshold: 50, lThreshold: 5 })]];
    return [s, ds];
  });

  await kase('apply-change', async () => {
    const before = { save: save(), list: listing('-Ln') };
    const r = await e.apply([
      { op: 'edit-dest', svc: A, dest: dest({ address: '10.0.0.2', weight: 7 }) },
      { op: 'del-dest', svc: A, dest: dest({ address: '10.0.0.3', fwd: 'DR' }) },
      { op: 'del-dest', svc: A, dest: dest({ address: '2001:db8::9', fwd: 'TUN' }) },
      { op: 'edit-service', svc: { ...B, scheduler: 'lc' } },
      { op: 'edit-service', svc: { ...C, flags: F0 } },
      { op: 'edit-dest', svc: E, dest: dest({ address: '10.0.0.10', port: 0, fwd: 'DR', weight: 0, uThreshold: 50, lThreshold: 5 }) },
      { op: 'add-dest', svc: D, dest: dest({ address: '10.0.0.11', port: 3868, weight: 2 }) },
      { op: 'del-service', svc: G },
    ]);
    const after = { save: save(), list: listing('-Ln') };
    return {
      expected: {
        result: { applied: 8, failed: [] },
        save: {
          removed: [
            '-a -f 42 -r 10.0.0.10:0 -g -w 4',
            '-A -t 10.0.0.1:443 -s wrr -p 300 -M 255.255.255.0',
            '-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 5',
            '-a -t 10.0.0.1:80 -r 10.0.0.3:80 -g -w 1',
            '-a -t 10.0.0.1:80 -r [2001:db8::9]:80 -i -w 1 --tun-type ipip',
            '-A -u 10.0.0.1:5060 -s rr -p 120 --pe sip -o',
            '-a -u 10.0.0.1:5060 -r 10.0.0.12:5060 -m -w 1',
            '-A -u [2001:db8::1]:53 -s sh -b sh-fallback,sh-port',
          ].sort(),
          added: [
            '-a -f 42 -r 10.0.0.10:0 -g -w 0',
            '-A -t 10.0.0.1:443 -s lc -p 300 -M 255.255.255.0',
            '-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 7',
            '-a --sctp-service 10.0.0.7:3868 -r 10.0.0.11:3868 -m -w 2',
            '-A -u [2001:db8::1]:53 -s sh',
          ].sort(),
        },
        list: {
          removed: [
            '  -> 10.0.0.10:0                  Route   4      0          0',
            '  -> 10.0.0.2:80                  Masq    5      0          0',
            '  -> 10.0.0.3:80                  Route   1      0          0',
            '  -> 10.0.0.12:5060               Masq    1      0          0',
            '  -> [2001:db8::9]:80             Tunnel  1      0          0',
            'TCP  10.0.0.1:443 wrr persistent 300 mask 255.255.255.0',
            'UDP  10.0.0.1:5060 rr persistent 120 pe sip ops',
            'UDP  [2001:db8::1]:53 sh (sh-fallback,sh-port)',
          ].sort(),
          added: [
            '  -> 10.0.0.10:0                  Route   0      0          0',
            '  -> 10.0.0.2:80                  Masq    7      0          0',
            '  -> 10.0.0.11:3868               Masq    2      0          0',
            'TCP  10.0.0.1:443 lc persistent 300 mask 255.255.255.0',
            'UDP  [2001:db8::1]:53 sh',
          ].sort(),
        },
        thresholds: lt('10.0.0.10:0', 50, 5),
        observed: plain(table(CHANGED)),
      },
      actual: {
        result: r,
        save: { removed: diff(before.save, after.save).removed.sort(), added: diff(before.save, after.save).added.sort() },
        list: { removed: diff(before.list, after.list).removed.sort(), added: diff(before.list, after.list).added.sort() },
        thresholds: listing('-Ln --thresholds').find((l) => l.startsWith('  -> 10.0.0.10:0 ')),
        observed: plain(await e.observe()),
      },
    };
  });

  await kase('kernel-errors', async () => {
    const before = save();
    const missing = svc({ protocol: 'TCP', address: '10.0.0.99', port: 80 });
    const good = dest({ address: '10.0.0.20' });
    const r = await e.apply([
      { op: 'add-dest', svc: missing, dest: dest({ address: '10.0.0.2' }) },
      { op: 'add-service', svc: svc({ protocol: 'TCP', address: '10.0.0.98', port: 80, scheduler: 'foo' as never }) },
      { op: 'add-service', svc: svc({ protocol: 'TCP', address: '10.0.0.97', port: 80, scheduler: 'rr', peName: 'nope' }) },
      { op: 'add-service', svc: A },
      { op: 'add-dest', svc: A, dest: dest({ address: '10.0.0.2', weight: 7 }) },
      { op: 'add-dest', svc: A, dest: good }, // a good op between refusals still goes in
      { op: 'edit-dest', svc: A, dest: dest({ address: '10.0.0.77' }) },
      { op: 'del-dest', svc: A, dest: dest({ address: '10.0.0.77' }) },
      { op: 'edit-service', svc: missing },
      { op: 'del-service', svc: missing },
      { op: 'add-dest', svc: A, dest: dest({ address: '10.0.0.21', uThreshold: 10, lThreshold: 20 }) },
      { op: 'add-dest', svc: A, dest: dest({ address: '10.0.0.22', fwd: 'TUN', tunnel: { type: 'gue' } }) },
      { op: 'add-dest', svc: A, dest: dest({ address: 'fd00::22', fwd: 'NAT' }) },
      { op: 'add-service', svc: svc({ family: 'inet6', protocol: 'TCP', address: 'fd00::1', port: 80, netmask: '0' }) },
    ]);
    const withGood = save();
    await e.apply([{ op: 'del-dest', svc: A, dest: good }]);
    return {
      expected: {
        applied: 1,
        errors: [
          'add destination [10.0.0.2]:80 to TCP:[10.0.0.99]:80: No such process (ESRCH) — service does not exist',
          "add service TCP:[10.0.0.98]:80: No such file or directory (ENOENT) — scheduler 'foo' not available (no ip_vs_foo module in this kernel?)",
          "add service TCP:[10.0.0.97]:80: No such file or directory (ENOENT) — scheduler 'rr' or persistence engine 'nope' not available (no ip_vs_rr or ip_vs_pe_nope module in this kernel?)",
          'add service TCP:[10.0.0.1]:80: File already exists (EEXIST) — service already exists',
          'add destination [10.0.0.2]:80 to TCP:[10.0.0.1]:80: File already exists (EEXIST) — destination already exists',
          'edit destination [10.0.0.77]:80 in TCP:[10.0.0.1]:80: No such file or directory (ENOENT) — destination does not exist',
          'delete destination [10.0.0.77]:80 from TCP:[10.0.0.1]:80: No such file or directory (ENOENT) — destination does not exist',
          'edit service TCP:[10.0.0.99]:80: No such process (ESRCH) — service does not exist',
          'delete service TCP:[10.0.0.99]:80: No such process (ESRCH) — service does not exist',
          'add destination [10.0.0.21]:80 to TCP:[10.0.0.1]:80: Result too large (ERANGE) — weight below zero or lower threshold above upper threshold',
          'add destination [10.0.0.22]:80 to TCP:[10.0.0.1]:80: Invalid argument (EINVAL) — the kernel refused the destination (address not usable, mixed address families without TUN or while a sync daemon runs, or a GUE tunnel without a port)',
          'add destination [fd00::22]:80 to TCP:[10.0.0.1]:80: Invalid argument (EINVAL) — the kernel refused the destination (address not usable, mixed address families without TUN or while a sync daemon runs, or a GUE tunnel without a port)',
          'add service TCP:[fd00::1]:80: IPv6 persistence netmask "0" must be a prefix length 1..128',
        ],
        // nothing else changed; the one good op went in
        table: { added: ['-a -t 10.0.0.1:80 -r 10.0.0.20:80 -m -w 1'], removed: [] },
        restored: before,
      },
      actual: { applied: r.applied, errors: r.failed.map((f) => f.error), table: diff(before, withGood), restored: save() },
    };
  });

  await kase('schedulers-available', async () => {
    // every scheduler lvsd knows: which ones this kernel (6.1) has
    const names = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh', 'twos'] as const;
    const out: Record<string, string> = {};
    for (const [i, n] of names.entries()) {
      const s = svc({ protocol: 'TCP', address: '10.0.4.1', port: 100 + i, scheduler: n });
      const r = await e.apply([{ op: 'add-service', svc: s }, { op: 'del-service', svc: s }]);
      out[n] = r.failed.length ? r.failed[0]!.error : 'ok';
    }
    return {
      expected: {
        ...Object.fromEntries(names.map((n) => [n, 'ok'])),
        // twos appeared in Linux 6.5
        twos: "add service TCP:[10.0.4.1]:113: No such file or directory (ENOENT) — scheduler 'twos' not available (no ip_vs_twos module in this kernel?)",
      },
      actual: out,
    };
  });

  await trafficCases(e);

  await kase('flush', async () => {
    await e.flush();
    return { expected: { table: [], save: [], list: HDR_LN }, actual: { table: plain(await e.observe()), save: save(), list: listing('-Ln') } };
  });

  await e.close();
}

// ---- real traffic: client -> director (this VM's root namespace) -> real servers in namespaces ----

const NS = ['lvsc', 'lvsr1', 'lvsr2', 'lvsdc', 'lvsd1', 'lvsd2'];

function setupTopology(): void {
  sh(`
set -e
echo 1 > /proc/sys/net/ipv4/ip_forward
for n in ${NS.join(' ')}; do ip netns add $n; ip -n $n link set lo up; done
# NAT: client 10.100.1.2 -- director 10.100.1.1 (VIP) ; director 10.100.{2,3}.1 -- real servers .2
ip link add vc type veth peer name eth0 netns lvsc
ip addr add 10.100.1.1/24 dev vc; ip link set vc up
ip -n lvsc addr add 10.100.1.2/24 dev eth0; ip -n lvsc link set eth0 up; ip -n lvsc route add default via 10.100.1.1
for i in 1 2; do
  ip link add vr$i type veth peer name eth0 netns lvsr$i
  ip addr add 10.100.$((i+1)).1/24 dev vr$i; ip link set vr$i up
  ip -n lvsr$i addr add 10.100.$((i+1)).2/24 dev eth0; ip -n lvsr$i link set eth0 up
  ip -n lvsr$i route add default via 10.100.$((i+1)).1
  mkdir -p /tmp/www-r$i; echo r$i > /tmp/www-r$i/index.html
  ip netns exec lvsr$i busybox httpd -p 80 -h /tmp/www-r$i
done
# DR: one L2 segment (bridge); VIP 10.200.0.100 on the director and on the real servers' lo
ip link add lvsbr type bridge; ip link set lvsbr up
ip addr add 10.200.0.1/24 dev lvsbr; ip addr add 10.200.0.100/32 dev lvsbr
ip link add pdc type veth peer name eth0 netns lvsdc; ip link set pdc master lvsbr up
ip -n lvsdc addr add 10.200.0.2/24 dev eth0; ip -n lvsdc link set eth0 up
for i in 1 2; do
  ip link add pd$i type veth peer name eth0 netns lvsd$i; ip link set pd$i master lvsbr up
  ip -n lvsd$i addr add 10.200.0.1$i/24 dev eth0; ip -n lvsd$i link set eth0 up
  ip -n lvsd$i addr add 10.200.0.100/32 dev lo
  ip netns exec lvsd$i sh -c 'echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore; echo 2 > /proc/sys/net/ipv4/conf/all/arp_announce'
  mkdir -p /tmp/www-d$i; echo d$i > /tmp/www-d$i/index.html
  ip netns exec lvsd$i busybox httpd -p 80 -h /tmp/www-d$i
done
`);
}

function teardownTopology(): void {
  sh(`for n in ${NS.join(' ')}; do for p in $(ip netns pids $n 2>/dev/null); do kill $p; done; ip netns del $n 2>/dev/null; done; ip link del lvsbr 2>/dev/null; true`);
}

// The HTTP client is node in the client namespace (the static busybox wget crashes resolving).
const CLIENT = `
const http = require('node:http');
const [host, n] = [process.argv[1], Number(process.argv[2])];
const once = () => new Promise((res) => {
  const r = http.get({ host, port: 80, path: '/', agent: false, timeout: 5000 }, (s) => {
    let b = ''; s.on('data', (d) => (b += d)); s.on('end', () => res(b.trim()));
  });
  r.on('error', (e) => res('ERROR ' + e.code));
  r.on('timeout', () => { r.destroy(); res('TIMEOUT'); });
});
(async () => { const out = []; for (let i = 0; i < n; i++) out.push(await once()); console.log(JSON.stringify(out)); })();
`;

/** n sequential HTTP GETs (a new connection each) from a namespace; the bodies. */
function fetch(clientNs: string, host: string, n: number): string[] {
  const out = execFileSync('ip', ['netns', 'exec', clientNs, process.execPath, '-e', CLIENT, host, String(n)], { encoding: 'utf8' });
  return JSON.parse(out) as string[];
}

async function trafficCases(e: IpvsEngine): Promise<void> {
  try {
    setupTopology();
  } catch (x) {
    for (const n of ['nat-traffic', 'counters', 'dr-traffic']) report({ name: n, error: `topology setup failed: ${(x as Error).message}`, ms: 0 });
    teardownTopology();
    return;
  }
  const nat = svc({ protocol: 'TCP', address: '10.100.1.1', port: 80, scheduler: 'rr' });
  const dr = svc({ protocol: 'TCP', address: '10.200.0.100', port: 80, scheduler: 'rr' });
  try {
    await kase('nat-traffic', async () => {
      const r = await e.apply(addOps([[nat, [dest({ address: '10.100.2.2' }), dest({ address: '10.100.3.2' })]]]));
      const got = fetch('lvsc', '10.100.1.1', 6);
      const alternates = got.every((g, i) => i === 0 || g !== got[i - 1]);
      return {
        expected: { result: { applied: 3, failed: [] }, counts: { r1: 3, r2: 3 }, alternates: true },
        actual: { result: r, counts: { r1: got.filter((g) => g === 'r1').length, r2: got.filter((g) => g === 'r2').length }, alternates },
        note: got,
      };
    });

    await kase('counters', async () => {
      // the kernel folds its per-CPU counters into the totals every 2 s (estimation timer)
      await new Promise((r) => setTimeout(r, 2500));
      const snap = (await e.snapshot()).get(nat.key);
      // `ipvsadm -Ln --stats --exact`: Conns InPkts OutPkts InBytes OutBytes per line
      const text = lines(sh('ipvsadm -Ln --stats --exact -t 10.100.1.1:80'));
      const nums = (prefix: string) => text.find((l) => l.startsWith(prefix))!.trim().split(/\s+/).slice(-5).map(String);
      const ours = (s: { conns: bigint; inPkts: bigint; outPkts: bigint; inBytes: bigint; outBytes: bigint }) =>
        [s.conns, s.inPkts, s.outPkts, s.inBytes, s.outBytes].map(String);
      const expected = { service: nums('TCP  10.100.1.1:80'), r1: nums('  -> 10.100.2.2:80'), r2: nums('  -> 10.100.3.2:80'), conns: '6' };
      const actual = {
        service: ours(snap!.stats),
        r1: ours(snap!.dests.get('[10.100.2.2]:80')!.stats),
        r2: ours(snap!.dests.get('[10.100.3.2]:80')!.stats),
        conns: String(snap!.stats.conns),
      };
      await e.zero(nat);
      const zeroed = (await e.snapshot()).get(nat.key)!;
      return {
        expected: { ...expected, zeroed: { service: ['0', '0', '0', '0', '0'], r1: ['0', '0', '0', '0', '0'] } },
        actual: { ...actual, zeroed: { service: ours(zeroed.stats), r1: ours(zeroed.dests.get('[10.100.2.2]:80')!.stats) } },
      };
    });

    await kase('dr-traffic', async () => {
      const r = await e.apply(addOps([[dr, [dest({ address: '10.200.0.11', fwd: 'DR' }), dest({ address: '10.200.0.12', fwd: 'DR' })]]]));
      const got = fetch('lvsdc', '10.200.0.100', 6);
      const alternates = got.every((g, i) => i === 0 || g !== got[i - 1]);
      return {
        expected: { result: { applied: 3, failed: [] }, counts: { d1: 3, d2: 3 }, alternates: true },
        actual: { result: r, counts: { d1: got.filter((g) => g === 'd1').length, d2: got.filter((g) => g === 'd2').length }, alternates },
        note: got,
      };
    });
  } finally {
    await e.apply([{ op: 'del-service', svc: nat }, { op: 'del-service', svc: dr }]);
    teardownTopology();
  }
}

main().then(
  () => process.stdout.write('@@DONE\n'),
  (e: unknown) => {
    process.stdout.write(`@@FATAL ${JSON.stringify((e as Error).stack ?? String(e))}\n`);
    process.exitCode = 1;
  },
);
