// Network-namespace lab (TypeScript port of shared/tools/lab/lab.sh), used by the live demo
// and by the system tests.
//
// Topology: one switch namespace with a bridge `br0` (STP off, forward_delay 0, multicast
// snooping off) and N node namespaces, each with `eth0` = veth into the bridge (switch-side port
// `v-<node>`), a fixed MAC and IPv4 (optionally IPv6) addresses. Nothing is created in the root
// namespace. Namespace names carry the creating pid and a random suffix (`lvt<pid>x<rand>-<node>`),
// so parallel labs never collide; names of crashed runs (dead pid) are removed by the next
// Lab.create. destroy() kills every process in the lab namespaces (by pid) and deletes them; every
// live lab is also torn down synchronously on process exit.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** the project root (src/lab/netns.ts and dist/src/lab/netns.js are both below it) */
export const PROJECT_ROOT = (() => {
  let d = path.dirname(fileURLToPath(import.meta.url));
  while (d !== path.dirname(d) && !fs.existsSync(path.join(d, 'package.json'))) d = path.dirname(d);
  return d;
})();
export const isRoot = process.getuid?.() === 0;

export class LabExecError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`${command}: exit ${exitCode}: ${stderr.trim() || stdout.trim()}`);
    this.name = 'LabExecError';
  }
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: readonly string[], timeoutMs = 30_000, input?: string): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { maxBuffer: 32 << 20, timeout: timeoutMs }, (err, stdout, stderr) => {
      if (!err) return resolve({ code: 0, stdout, stderr });
      // a number is the exit status; otherwise it did not run (ENOENT) or was killed (timeout)
      const code = typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr: stderr || err.message });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

async function mustRun(cmd: string, args: readonly string[], timeoutMs?: number, input?: string): Promise<string> {
  const r = await run(cmd, args, timeoutMs, input);
  if (r.code !== 0) throw new LabExecError(`${cmd} ${args.join(' ')}`.slice(0, 300), r.code, r.stdout, r.stderr);
  return r.stdout;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A process running in a lab namespace, in its own process group (so the whole tree is killed). */
export class LabProcess {
  /** stdout, split into lines as they arrive */
  readonly lines: string[] = [];
  private stderrText = '';
  private partial = '';
  private exitInfo: ExitInfo | null = null;
  private readonly waiters = new Set<() => void>();
  readonly exited: Promise<ExitInfo>;

  constructor(
    readonly label: string,
    private readonly child: ChildProcess,
  ) {
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      const parts = (this.partial + d).split('\n');
      this.partial = parts.pop()!;
      this.lines.push(...parts);
      this.wake();
    });
    child.stderr!.on('data', (d: string) => {
      this.stderrText += d;
      if (this.stderrText.length > 1 << 20) this.stderrText = this.stderrText.slice(-(1 << 19));
    });
    child.stdin!.on('error', () => {
      // the process may exit before reading its stdin
    });
    this.exited = new Promise((resolve) => {
      child.on('error', (e) => {
        this.stderrText += `spawn error: ${e.message}\n`;
        this.exitInfo = { code: null, signal: null };
        this.wake();
        resolve(this.exitInfo);
      });
      child.on('close', (code, signal) => {
        if (this.partial) this.lines.push(this.partial);
        this.partial = '';
        this.exitInfo = { code, signal };
        this.wake();
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get stderr(): string {
    return this.stderrText;
  }

  get hasExited(): boolean {
    return this.exitInfo !== null;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Index to pass as `since` so a wait only considers lines printed after this point. */
  mark(): number {
    return this.lines.length;
  }

  /** Wait for a stdout line matching pred (from line `since`); rejects on timeout or exit. */
  waitForLine(pred: RegExp | ((line: string) => boolean), opts: { timeoutMs?: number; since?: number } = {}): Promise<string> {
    const test = typeof pred === 'function' ? pred : (l: string) => pred.test(l);
    const timeoutMs = opts.timeoutMs ?? 10_000;
    let next = opts.since ?? 0;
    return new Promise((resolve, reject) => {
      const done = (f: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        f();
      };
      const check = (): void => {
        for (; next < this.lines.length; next++) {
          const l = this.lines[next]!;
          if (test(l)) return done(() => resolve(l));
        }
        if (this.exitInfo)
          done(() => reject(new Error(`${this.label} exited (${JSON.stringify(this.exitInfo)}) before the expected line; stderr:\n${this.stderrText}`)));
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`${this.label}: no matching line in ${timeoutMs} ms; stdout tail:\n${this.lines.slice(-10).join('\n')}\nstderr:\n${this.stderrText}`))),
        timeoutMs,
      );
      this.waiters.add(check);
      check();
    });
  }

  /** Stdout lines that parse as JSON objects (others are skipped). */
  json<T = Record<string, unknown>>(since = 0): T[] {
    const out: T[] = [];
    for (const l of this.lines.slice(since)) {
      if (!l.startsWith('{')) continue;
      try {
        out.push(JSON.parse(l) as T);
      } catch {
        // not JSON
      }
    }
    return out;
  }

  /** Wait for a JSON line for which pred is true. */
  async waitForJson<T = Record<string, unknown>>(pred: (o: T) => boolean, opts: { timeoutMs?: number; since?: number } = {}): Promise<T> {
    const line = await this.waitForLine((l) => {
      if (!l.startsWith('{')) return false;
      try {
        return pred(JSON.parse(l) as T);
      } catch {
        return false;
      }
    }, opts);
    return JSON.parse(line) as T;
  }

  /** Write one line to the process's stdin. */
  write(line: string): void {
    this.child.stdin!.write(line.endsWith('\n') ? line : `${line}\n`);
  }

  /** Signal the whole process group, wait up to graceMs, then SIGKILL it. */
  async kill(signal: NodeJS.Signals = 'SIGTERM', graceMs = 2000): Promise<ExitInfo> {
    const pid = this.child.pid;
    if (pid === undefined) return this.exited;
    const sig = (s: NodeJS.Signals): void => {
      try {
        process.kill(-pid, s);
      } catch {
        // group already gone
      }
    };
    if (!this.exitInfo) {
      sig(signal);
      const t = setTimeout(() => sig('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(t);
    }
    sig('SIGKILL'); // leftovers of the tree that outlived the leader
    return this.exited;
  }
}

// ---- the lab -----------------------------------------------------------------------------

export type NodeRole = 'director' | 'realserver' | 'client' | 'plain';

export interface LabNodeSpec {
  /** [a-z0-9], 1..10 characters; not "sw" */
  name: string;
  /** 1..99: IPv4 <subnet4>.<host>, IPv6 <subnet6><host>, MAC 02:99:00:00:00:<host as 2 decimal digits> (as lab.sh) */
  host?: number;
  /** CIDR; default <subnet4>.<host>/24; null: no IPv4 address */
  ipv4?: string | null;
  /** CIDR; default <subnet6><host>/64 when the lab has IPv6; null: link-local only */
  ipv6?: string | null;
  mac?: string;
  /** director: ip_nonlocal_bind=1 (+ ip_forward from LabOptions.forward); realserver: arp_ignore=1, arp_announce=2 */
  role?: NodeRole;
  /** extra sysctls, dotted keys, applied after eth0 exists (e.g. {'net.ipv4.conf.eth0.arp_ignore': 1}) */
  sysctls?: Record<string, string | number>;
}

export interface LabOptions {
  nodes: (string | LabNodeSpec)[];
  /** keep IPv6 on in the nodes (link-local + global nodad, DAD off so addresses are usable at once); default off as lab.sh */
  ipv6?: boolean;
  /** default '10.99.0' */
  subnet4?: string;
  /** default 'fd99::' */
  subnet6?: string;
  /** ip_forward on directors; default false */
  forward?: boolean;
}

export interface LabNode {
  name: string;
  ns: string;
  ifname: 'eth0';
  /** switch-side veth port (in the switch namespace): set it down to cut the node's carrier */
  port: string;
  mac: string;
  host: number;
  ipv4: string | null;
  ipv4Cidr: string | null;
  ipv6: string | null;
  ipv6Cidr: string | null;
  /** EUI-64 link-local of eth0 (when the lab has IPv6) */
  linkLocal: string | null;
}

const NAME_RE = /^[a-z0-9]{1,10}$/;
const live = new Set<Lab>();
let exitHookInstalled = false;
const NS_RE = /^lvt(\d+)x[0-9a-z]+-[a-z0-9]+$/;

function nsList(): string[] {
  try {
    return fs.readdirSync('/run/netns');
  } catch {
    return [];
  }
}

const pidAlive = (pid: number): boolean => fs.existsSync(`/proc/${pid}`);

function destroyNamespacesSync(names: readonly string[]): void {
  for (const ns of names) {
    try {
      const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      for (const p of pids.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(p), 'SIGKILL');
        } catch {
          // gone already
        }
      }
    } catch {
      // namespace already gone
    }
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // already deleted
    }
  }
}

/** Remove namespaces left by lab runs whose process died without cleaning up. */
export function cleanupStaleLabs(): void {
  const dead = nsList().filter((n) => {
    const m = NS_RE.exec(n);
    return m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]));
  });
  if (dead.length) destroyNamespacesSync(dead);
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const lab of live) lab.destroySync();
  });
}

/** EUI-64 link-local for a MAC (the kernel's default addr_gen_mode). */
export function eui64LinkLocal(mac: string): string {
  const b = mac.split(':').map((x) => parseInt(x, 16));
  const g = [(b[0]! ^ 2) * 256 + b[1]!, b[2]! * 256 + 0xff, 0xfe00 + b[3]!, b[4]! * 256 + b[5]!];
  return `fe80::${g.map((x) => x.toString(16)).join(':')}`;
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function sysctlLines(kv: Record<string, string | number>): string {
  return Object.entries(kv)
    .map(([k, v]) => `printf '%s\\n' ${q(String(v))} > ${q(`/proc/sys/${k.replace(/\./g, '/')}`)}`)
    .join('\n');
}

export class Lab {
  readonly id: string;
  readonly switchNs: string;
  readonly bridge = 'br0';
  readonly nodes = new Map<string, LabNode>();
  private readonly procs = new Set<LabProcess>();
  private destroyed = false;

  private constructor(private readonly opts: LabOptions) {
    this.id = `lvt${process.pid}x${Math.random().toString(36).slice(2, 6)}`;
    this.switchNs = `${this.id}-sw`;
  }

  /** Build the lab (~0.3 s for a few nodes). On failure everything created so far is removed. */
  static async create(opts: LabOptions): Promise<Lab> {
    if (!isRoot) throw new Error('a namespace lab needs root');
    cleanupStaleLabs();
    const lab = new Lab(opts);
    live.add(lab);
    installExitHook();
    try {
      await lab.build();
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    return lab;
  }

  private plan(): LabNode[] {
    const sub4 = this.opts.subnet4 ?? '10.99.0';
    const sub6 = this.opts.subnet6 ?? 'fd99::';
    return this.opts.nodes.map((n, i) => {
      const spec: LabNodeSpec = typeof n === 'string' ? { name: n } : n;
      if (!NAME_RE.test(spec.name) || spec.name === 'sw') throw new Error(`bad lab node name "${spec.name}" ([a-z0-9]{1,10}, not "sw")`);
      const host = spec.host ?? 11 + i;
      if (host < 1 || host > 99) throw new Error(`lab node ${spec.name}: host ${host} outside 1..99`);
      const mac = spec.mac ?? `02:99:00:00:00:${String(host).padStart(2, '0')}`;
      const ipv4Cidr = spec.ipv4 === undefined ? `${sub4}.${host}/24` : spec.ipv4;
      const ipv6Cidr = this.opts.ipv6 ? (spec.ipv6 === undefined ? `${sub6}${host}/64` : spec.ipv6) : null;
      return {
        name: spec.name,
        ns: `${this.id}-${spec.name}`,
        ifname: 'eth0' as const,
        port: `v-${spec.name}`,
        mac,
        host,
        ipv4Cidr,
        ipv4: ipv4Cidr ? ipv4Cidr.split('/')[0]! : null,
        ipv6Cidr,
        ipv6: ipv6Cidr ? ipv6Cidr.split('/')[0]! : null,
        linkLocal: this.opts.ipv6 ? eui64LinkLocal(mac) : null,
      };
    });
  }

  private async build(): Promise<void> {
    const nodes = this.plan();
    const specs = new Map(this.opts.nodes.map((n) => (typeof n === 'string' ? [n, { name: n }] : [n.name, n])));
    if (new Set(nodes.map((n) => n.name)).size !== nodes.length) throw new Error('duplicate lab node names');
    const v6 = !!this.opts.ipv6;
    const sw = this.switchNs;
    const nsExec = (ns: string, script: string): string => `ip netns exec ${ns} sh -ec ${q(script)}`;
    const lines: string[] = [
      `ip netns add ${sw}`,
      `ip -n ${sw} link set lo up`,
      nsExec(sw, sysctlLines({ 'net.ipv6.conf.all.disable_ipv6': 1, 'net.ipv6.conf.default.disable_ipv6': 1 })),
      `ip -n ${sw} link add ${this.bridge} type bridge stp_state 0 forward_delay 0 mcast_snooping 0 ageing_time 30000`,
      `ip -n ${sw} link set ${this.bridge} up`,
    ];
    for (const n of nodes) {
      const spec = specs.get(n.name)!;
      const d = v6 ? 0 : 1;
      // defaults first: eth0 inherits them when it appears in the namespace
      const pre: Record<string, string | number> = {
        'net.ipv6.conf.all.disable_ipv6': d,
        'net.ipv6.conf.default.disable_ipv6': d,
        'net.ipv4.conf.all.rp_filter': 0,
        'net.ipv4.conf.default.rp_filter': 0,
        'net.ipv4.conf.all.arp_accept': 1,
        'net.ipv4.conf.default.arp_accept': 1,
        'net.ipv4.ping_group_range': '0 2147483647',
      };
      if (v6) Object.assign(pre, { 'net.ipv6.conf.all.accept_dad': 0, 'net.ipv6.conf.default.accept_dad': 0 });
      const post: Record<string, string | number> = {
        'net.ipv4.conf.eth0.rp_filter': 0,
        'net.ipv4.conf.eth0.arp_accept': 1,
        'net.ipv6.conf.eth0.disable_ipv6': d,
      };
      if (spec.role === 'director') Object.assign(post, { 'net.ipv4.ip_forward': this.opts.forward ? 1 : 0, 'net.ipv4.ip_nonlocal_bind': 1 });
      if (spec.role === 'realserver')
        Object.assign(post, {
          'net.ipv4.conf.all.arp_ignore': 1,
          'net.ipv4.conf.all.arp_announce': 2,
          'net.ipv4.conf.eth0.arp_ignore': 1,
          'net.ipv4.conf.eth0.arp_announce': 2,
        });
      Object.assign(post, spec.sysctls ?? {});
      lines.push(
        `ip netns add ${n.ns}`,
        `ip -n ${n.ns} link set lo up`,
        nsExec(n.ns, sysctlLines(pre)),
        `ip -n ${sw} link add ${n.port} type veth peer name eth0 netns ${n.ns}`,
        `ip -n ${sw} link set ${n.port} master ${this.bridge} up`,
        `ip -n ${n.ns} link set eth0 address ${n.mac}`,
        nsExec(n.ns, sysctlLines(post)),
      );
      if (n.ipv4Cidr) lines.push(`ip -n ${n.ns} addr add ${n.ipv4Cidr} dev eth0`);
      if (n.ipv6Cidr) lines.push(`ip -n ${n.ns} -6 addr add ${n.ipv6Cidr} dev eth0 nodad`);
      lines.push(`ip -n ${n.ns} link set eth0 up`);
      this.nodes.set(n.name, n);
    }
    await mustRun('sh', ['-ec', lines.join('\n')], 60_000);
    if (v6) await Promise.all(nodes.map((n) => this.waitIpv6Ready(n.name)));
  }

  /** Wait until eth0's link-local exists and is not tentative (it appears when the link gets carrier). */
  async waitIpv6Ready(node: string, timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const out = await this.exec(node, 'ip', '-j', '-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'link');
      const infos = (JSON.parse(out || '[]') as { addr_info?: { local?: string; tentative?: boolean }[] }[]).flatMap((x) => x.addr_info ?? []);
      if (infos.some((a) => a.local?.startsWith('fe80') && !a.tentative)) return;
      if (Date.now() > end) throw new Error(`lab node ${node}: no usable IPv6 link-local after ${timeoutMs} ms: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  node(name: string): LabNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no lab node "${name}" (have ${[...this.nodes.keys()].join(', ')})`);
    return n;
  }

  /** Namespace of a node ("sw" = the switch). */
  ns(node: string): string {
    return node === 'sw' ? this.switchNs : this.node(node).ns;
  }

  /** Run a command in a node's namespace; resolves stdout, rejects with LabExecError on non-zero exit. */
  exec(node: string, cmd: string, ...args: string[]): Promise<string> {
    return mustRun('ip', ['netns', 'exec', this.ns(node), cmd, ...args]);
  }

  /** Like exec but resolves whatever the exit code is. */
  tryExec(node: string, cmd: string, ...args: string[]): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', this.ns(node), cmd, ...args]);
  }

  /** `ip -j ...` in a node, parsed. */
  async ipJson<T = unknown>(node: string, ...args: string[]): Promise<T> {
    const out = await this.exec(node, 'ip', '-j', ...args);
    return JSON.parse(out || '[]') as T;
  }

  /** Start a long-running command in a node (own process group; killed by destroy at the latest). */
  spawn(node: string, cmd: string, args: readonly string[] = [], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): LabProcess {
    if (this.destroyed) throw new Error('lab destroyed');
    const child = spawn('ip', ['netns', 'exec', this.ns(node), cmd, ...args], {
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd ?? PROJECT_ROOT,
    });
    const p = new LabProcess(`${node}: ${path.basename(cmd)} ${args.map((a) => path.basename(a)).join(' ')}`.slice(0, 120), child);
    this.procs.add(p);
    void p.exited.then(() => this.procs.delete(p));
    return p;
  }

  /** Run a Node script (a fixture importing dist/) in a node. */
  spawnNode(node: string, script: string, args: readonly string[] = [], opts: { env?: NodeJS.ProcessEnv } = {}): LabProcess {
    return this.spawn(node, process.execPath, [script, ...args], opts);
  }

  /** Kill every process in the lab (spawned or not), then delete the namespaces. Idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await Promise.all([...this.procs].map((p) => p.kill('SIGTERM', 1000)));
    const names = nsList().filter((n) => n.startsWith(`${this.id}-`));
    const pidsOf = async (ns: string): Promise<number[]> => {
      const r = await run('ip', ['netns', 'pids', ns]);
      return r.stdout.split(/\s+/).filter(Boolean).map(Number);
    };
    const signal = (pids: number[], s: NodeJS.Signals): void => {
      for (const p of pids) {
        try {
          process.kill(p, s);
        } catch {
          // exited meanwhile
        }
      }
    };
    for (const ns of names) signal(await pidsOf(ns), 'SIGTERM');
    const end = Date.now() + 2000;
    for (;;) {
      const left = (await Promise.all(names.map(pidsOf))).flat();
      if (left.length === 0) break;
      if (Date.now() > end) {
        signal(left, 'SIGKILL');
        await new Promise((r) => setTimeout(r, 100));
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const ns of names) await run('ip', ['netns', 'del', ns]);
    live.delete(this);
  }

  /** Synchronous teardown for the process-exit hook (SIGKILL, no grace). */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const p of this.procs) {
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    destroyNamespacesSync(nsList().filter((n) => n.startsWith(`${this.id}-`)));
    live.delete(this);
  }
}

