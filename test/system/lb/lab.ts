// End-to-end load-balancing lab: the whole daemon (`lvsd run`, nftables or IPVS engine) in a
// director namespace, with real HTTP_GET health checks against real servers running src/lab/http-server.js
// (it answers its own name), and a client namespace sending new connections to the VIPs.
//
//   client  10.99.0.10/24 + 10.99.0.100..129 (extra source addresses for sh)
//   dir     10.99.0.1/24; NAT and full NAT also 10.98.0.2/24. VRRP (one instance, the director
//           alone becomes MASTER) holds the VIPs 10.99.0.200-202/32 and, for NAT and full NAT,
//           10.98.0.1/24: the real servers' gateway (NAT) or the SNAT source (full NAT)
//   rs1..3  NAT / full NAT: 10.98.0.21..23/24 (NAT: default via 10.98.0.1; full NAT: no route
//           to the client at all). DR: 10.99.0.21..23/24, prepared with `lvsd realserver up`.
// One virtual server per scheduler, all over the same three real servers:
//   10.99.0.200:80 rr, 10.99.0.201:80 wrr 1:2:3 with inhibit_on_failure, 10.99.0.202:80 sh.
// Clients and NAT real servers share the wire but not a subnet, so replies go through the
// director; it sends no ICMP redirects and the real servers accept none.
// No vitest in here: the IPVS VM driver (test/vm/scenarios/daemon-ipvs.ts) uses it too. Callers
// make sure dist/ is built (bin/lvsd.js and the lab's http-server run from it).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Lab, PROJECT_ROOT, type LabProcess } from '../../../src/lab/netns.js';

const FIXTURES = path.join(PROJECT_ROOT, 'test/system/lb/fixtures');
const CLIENT = path.join(FIXTURES, 'http-client.mjs');
const PROBE = path.join(FIXTURES, 'probe.mjs');
const BIN = path.join(PROJECT_ROOT, 'bin/lvsd.js');
const HTTP_SERVER = path.join(PROJECT_ROOT, 'dist/src/lab/http-server.js');
/** what the lab needs from dist/ */
export const LB_DIST = ['dist/src/cli/main.js', 'dist/src/lab/http-server.js'];

export type LbMode = 'nat' | 'dr' | 'fullnat';
export type LbDataplane = 'nftables' | 'ipvs';

export const VIP_RR = '10.99.0.200';
export const VIP_WRR = '10.99.0.201';
export const VIP_SH = '10.99.0.202';
export const VIPS = [VIP_RR, VIP_WRR, VIP_SH];
export const GATEWAY_VIP = '10.98.0.1';
export const RS_NAMES = ['rs1', 'rs2', 'rs3'];
export const WRR_WEIGHTS = [1, 2, 3];

/** Health-check timing of every real server (seconds, as in the config). */
export interface CheckTiming {
  delayLoop: number;
  connectTimeout: number;
  retry: number;
  /** = delayLoop, so the detection window below holds */
  delayBeforeRetry: number;
}
export const CHECK: CheckTiming = { delayLoop: 0.5, connectTimeout: 0.3, retry: 1, delayBeforeRetry: 0.5 };
/**
 * Longest time from a real server's death to its removal: the next check comes at most
 * delay_loop after the last good one, then `retry` retries delay_before_retry (= delay_loop)
 * apart, each taking up to connect_timeout; plus a margin for the checker IPC and the batch.
 */
export function detectionWindowMs(c: CheckTiming, marginMs = 500): number {
  return Math.round((c.delayLoop * (c.retry + 1) + c.connectTimeout) * 1000) + marginMs;
}
export const DETECTION_WINDOW_MS = detectionWindowMs(CHECK);

export function rsAddress(mode: LbMode, i: number): string {
  return mode === 'dr' ? `10.99.0.${21 + i}` : `10.98.0.${21 + i}`;
}

export function lbConfig(mode: LbMode, dataplane: LbDataplane = 'nftables', check: CheckTiming = CHECK): string {
  if (mode === 'fullnat' && dataplane !== 'nftables') throw new Error('full NAT (lvsd_fullnat) needs the nftables engine');
  const kind = mode === 'dr' ? 'DR' : 'NAT';
  const vips = [...VIPS.map((v) => `${v}/32 dev eth0`), ...(mode === 'dr' ? [] : [`${GATEWAY_VIP}/24 dev eth0`])];
  const rs = (i: number, weight: number, inhibit: boolean): string => `    real_server ${rsAddress(mode, i)} 80 {
        weight ${weight}${inhibit ? '\n        inhibit_on_failure' : ''}
        HTTP_GET {
            url {
                path /
                status_code 200
            }
            connect_timeout ${check.connectTimeout}
            retry ${check.retry}
            delay_before_retry ${check.delayBeforeRetry}
        }
    }`;
  const vs = (vip: string, algo: string, weights: number[], inhibit: boolean): string => `virtual_server ${vip} 80 {
    delay_loop ${check.delayLoop}
    lb_algo ${algo}
    lb_kind ${kind}
    protocol TCP${mode === 'fullnat' ? `\n    lvsd_fullnat ${GATEWAY_VIP}` : ''}
${weights.map((w, i) => rs(i, w, inhibit)).join('\n')}
}`;
  return `! lvsd end-to-end test (${mode}, ${dataplane}): one director, three real servers, HTTP_GET checks
global_defs {
    router_id lvsd_lb_${mode}
    vrrp_version 3
}
lvsd_defs {
    dataplane ${dataplane}
    reconcile_interval 1
}
vrrp_instance VI_LB {
    state MASTER
    priority 150
    interface eth0
    virtual_router_id 61
    advert_int 0.1
    virtual_ipaddress {
${vips.map((v) => `        ${v}`).join('\n')}
    }
}
${vs(VIP_RR, 'rr', [1, 1, 1], false)}
${vs(VIP_WRR, 'wrr', WRR_WEIGHTS, true)}
${vs(VIP_SH, 'sh', [1, 1, 1], false)}
`;
}

export interface HttpResult {
  src?: string;
  /** the client's source port (when the connection was established) */
  sport?: number;
  server?: string;
  err?: string;
}

export interface ProbeLine {
  /** wall-clock start (ms since the epoch) */
  t: number;
  /** duration */
  ms: number;
  ok: boolean;
  server?: string;
  error?: string;
  /** the client's source port */
  sport?: number;
}

export type LogLine = Record<string, unknown> & { msg?: string; time?: number | string; level?: string };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class LbLab {
  readonly sources = Array.from({ length: 30 }, (_, i) => `10.99.0.${100 + i}`);
  readonly dir: string;
  readonly confPath: string;
  private readonly servers = new Map<string, LabProcess>();
  director: LabProcess | null = null;
  /** bound of each wait for a process line */
  timeoutMs = 10_000;
  private rsPrepared = new Set<string>();

  private constructor(
    readonly lab: Lab,
    readonly mode: LbMode,
    readonly dataplane: LbDataplane,
    check: CheckTiming,
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `lvsd-lb-${mode}-`));
    this.confPath = path.join(this.dir, 'lvsd.conf');
    fs.writeFileSync(this.confPath, lbConfig(mode, dataplane, check));
  }

  /** Build the lab; `timeoutMs` bounds each wait for a process (raise it in the VM). */
  static async create(mode: LbMode, opts: { dataplane?: LbDataplane; check?: CheckTiming; timeoutMs?: number } = {}): Promise<LbLab> {
    const dataplane = opts.dataplane ?? 'nftables';
    lbConfig(mode, dataplane); // refuses impossible combinations before anything is created
    const nat = mode !== 'dr';
    const lab = await Lab.create({
      forward: true,
      nodes: [
        { name: 'client', host: 10, ipv4: '10.99.0.10/24', role: 'client' },
        {
          name: 'dir',
          host: 1,
          ipv4: '10.99.0.1/24',
          role: 'director',
          sysctls: { 'net.ipv4.conf.all.send_redirects': 0, 'net.ipv4.conf.eth0.send_redirects': 0 },
        },
        ...RS_NAMES.map((name, i) => ({
          name,
          host: 21 + i,
          ipv4: `${rsAddress(mode, i)}/24`,
          // DR real servers are prepared by `lvsd realserver up` alone (arp_ignore/arp_announce)
          role: 'plain' as const,
          sysctls: { 'net.ipv4.conf.all.accept_redirects': 0, 'net.ipv4.conf.eth0.accept_redirects': 0 },
        })),
      ],
    });
    const l = new LbLab(lab, mode, dataplane, opts.check ?? CHECK);
    if (opts.timeoutMs) l.timeoutMs = opts.timeoutMs;
    try {
      // debugging aid: LVSD_LB_PCAP=DIR keeps a capture of what the client and the director see
      const pcap = process.env['LVSD_LB_PCAP'];
      if (pcap) {
        for (const n of ['client', 'dir']) lab.spawn(n, 'tcpdump', ['-p', '-i', 'eth0', '-nn', '-U', '-w', path.join(pcap, `${mode}-${n}.pcap`), 'tcp port 80 or arp']);
        await sleep(300);
      }
      const sh = (node: string, script: string): Promise<string> => lab.exec(node, 'sh', '-ec', script);
      await sh('client', l.sources.map((a) => `ip addr add ${a}/24 dev eth0`).join('; '));
      if (nat) await sh('dir', 'ip addr add 10.98.0.2/24 dev eth0');
      // the real servers in parallel (each is a Node start, slow in the VM)
      await Promise.all(
        RS_NAMES.map(async (n) => {
          if (mode === 'nat') await sh(n, `ip route add default via ${GATEWAY_VIP}`);
          if (mode === 'dr') {
            l.rsPrepared.add(n);
            await l.lvsd(n, 'realserver', 'up', ...VIPS.flatMap((v) => ['--vip', v]), '--mode', 'dr', '--state', l.rsState(n));
          }
          await l.startServer(n);
        }),
      );
    } catch (e) {
      await l.destroy();
      throw e;
    }
    return l;
  }

  rsState(node: string): string {
    return path.join(this.dir, `${node}.realserver.json`);
  }

  /** Run an `lvsd` command in a node to its end (bounded by timeoutMs, not Lab.exec's 30 s); its stdout. */
  async lvsd(node: string, ...args: string[]): Promise<string> {
    const p = this.lab.spawn(node, process.execPath, [BIN, ...args]);
    const t = setTimeout(() => void p.kill('SIGKILL', 0), 2 * this.timeoutMs);
    const exit = await p.exited.finally(() => clearTimeout(t));
    if (exit.code !== 0) throw new Error(`${node}: lvsd ${args.join(' ')}: ${JSON.stringify(exit)}\n${p.lines.join('\n')}\n${p.stderr}`);
    return p.lines.join('\n');
  }

  /** `lvsd realserver down` on a DR real server (undoes `up`). */
  async realserverDown(node: string): Promise<string> {
    const out = await this.lvsd(node, 'realserver', 'down', '--state', this.rsState(node));
    this.rsPrepared.delete(node);
    return out;
  }

  async startServer(node: string): Promise<void> {
    const p = this.lab.spawn(node, process.execPath, [HTTP_SERVER, node, '80']);
    await p.waitForJson((o) => o['event'] === 'listening', { timeoutMs: this.timeoutMs });
    this.servers.set(node, p);
  }

  /** Stop a real server's HTTP server; resolves the wall-clock time of the signal. */
  async stopServer(node: string): Promise<number> {
    const p = this.servers.get(node);
    if (!p) throw new Error(`${node} has no running server`);
    const t = Date.now();
    await p.kill('SIGKILL', 0);
    this.servers.delete(node);
    return t;
  }

  /** Start `lvsd run` in the director; resolves once it is MASTER and the data plane is programmed. */
  async startDirector(): Promise<LabProcess> {
    const p = this.lab.spawn('dir', process.execPath, [BIN, 'run', '-f', this.confPath, '-i', 'dir']);
    this.director = p;
    await p.waitForJson((o) => o['event'] === 'started' || o['level'] === 'fatal', { timeoutMs: 2 * this.timeoutMs });
    const fatal = p.json<LogLine>().find((o) => o.level === 'fatal' || o.level === 'error');
    if (fatal) throw new Error(`lvsd did not start: ${JSON.stringify(fatal)}\n${p.stderr}`);
    await p.waitForJson((o) => o['event'] === 'state' && o['to'] === 'MASTER', { timeoutMs: this.timeoutMs });
    await p.waitForJson((o) => o['event'] === 'reconcile', { timeoutMs: this.timeoutMs });
    return p;
  }

  /** Wait for the daemon's log line saying a real server was removed from / added to a VS. */
  async waitRsLog(verb: 'Removing' | 'Adding' | 'Disabling' | 'Enabling', rs: string, vip: string, since: number, timeoutMs = 10_000): Promise<LogLine> {
    const d = this.director!;
    const vs = `vs:TCP:[${vip}]:80`;
    return d.waitForJson<LogLine>((o) => o['vs'] === vs && o['rs'] === `${vs}/rs:[${rs}]:80` && typeof o.msg === 'string' && o.msg.startsWith(`${verb} service `), { since, timeoutMs });
  }

  /**
   * `count` sequential GETs from the client, each on a new connection, cycling through `sources`;
   * localPort: all from this source port (outside the ephemeral range, so nothing else takes it).
   */
  async http(o: { vip: string; count: number; sources?: string[]; timeoutMs?: number; delayMs?: number; localPort?: number }): Promise<HttpResult[]> {
    const arg = { host: o.vip, port: 80, count: o.count, sources: o.sources ?? [], timeoutMs: o.timeoutMs ?? 1000, delayMs: o.delayMs ?? 0, localPort: o.localPort ?? 0 };
    const p = this.lab.spawn('client', process.execPath, [CLIENT, JSON.stringify(arg)]);
    const r = await p.waitForJson<{ results: HttpResult[] }>((x) => Array.isArray(x.results), { timeoutMs: 2 * this.timeoutMs + o.count * (arg.timeoutMs + arg.delayMs) });
    return r.results;
  }

  /**
   * A new connection every intervalMs from the client to vip:80 (fixtures/probe.mjs), resolved
   * once the first probe has answered; stop() returns every probe's line.
   */
  async probe(vip: string, intervalMs: number, timeoutMs: number): Promise<{ stop: () => Promise<ProbeLine[]> }> {
    const p = this.lab.spawn('client', process.execPath, [PROBE, vip, '80', String(intervalMs), String(timeoutMs)]);
    await p.waitForJson(() => true, { timeoutMs: this.timeoutMs });
    return {
      stop: async () => {
        await sleep(timeoutMs + 50); // let the last probes finish
        await p.kill('SIGTERM');
        return p.json<ProbeLine>();
      },
    };
  }

  nft(...args: string[]): Promise<string> {
    return this.lab.exec('dir', 'nft', ...args);
  }

  async destroy(): Promise<void> {
    try {
      if (this.director) {
        await this.director.kill('SIGTERM', 5000);
      }
      await Promise.all([...this.rsPrepared].map((n) => this.realserverDown(n).catch(() => undefined)));
    } finally {
      await this.lab.destroy();
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

// ---- result helpers ----------------------------------------------------------------------

export function names(rs: HttpResult[]): string[] {
  return rs.map((r) => (r.err ? `ERR:${r.err}` : r.server!));
}

export function counts(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

/** Time (ms since epoch) of a pino log line. */
export function logTime(l: LogLine): number {
  return typeof l.time === 'number' ? l.time : Date.parse(String(l.time));
}
