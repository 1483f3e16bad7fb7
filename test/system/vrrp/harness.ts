// Shared pieces of the VRRP system tests: lvsd as a real daemon in a lab node (state waits on its
// JSON log), a tcpdump capture on the lab switch, VIP presence via `ip -j addr`, HTTP through the
// VIP from the client namespace, and the client's neighbour entry.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBuilt, PROJECT_ROOT, type Lab, type LabProcess } from '../../helpers/netns.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const FIXTURES = path.join(HERE, 'fixtures');
const BIN = path.join(PROJECT_ROOT, 'bin/lvsd.js');
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Build dist/ if a source is newer (npm test builds first, so normally an mtime scan). */
export function buildLvsd(): Promise<void> {
  return ensureBuilt(['dist/src/cli/main.js', 'dist/src/cli/run.js', 'dist/src/daemon/daemon.js', 'dist/src/daemon/vrrp-runtime.js', 'dist/src/vrrp/index.js']);
}

export const tmpDir = (tag: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `lvsd-vrrp-${tag}-`));

// ---- lvsd --------------------------------------------------------------------------------

/** A `{"sub":"vrrp","event":"state",...}` log line; `t` = its wall-clock time in ms. */
export interface StateEvent {
  instance: string;
  from: string;
  to: string;
  reason: string;
  priority: number;
  time: string;
  t: number;
}

type LogLine = Record<string, unknown>;

/** lvsd (`bin/lvsd.js run -f CONF`) in one lab node; one process at a time. */
export class LvsdNode {
  proc: LabProcess | undefined;
  private starts = 0;

  constructor(
    private readonly lab: Lab,
    readonly node: string,
    private readonly dir: string,
  ) {}

  /** Write the config, start lvsd and wait for its "started" line. */
  async start(conf: string, timeoutMs = 15_000): Promise<void> {
    if (this.proc && !this.proc.hasExited) throw new Error(`lvsd already running in ${this.node}`);
    const file = path.join(this.dir, `${this.node}-${++this.starts}.conf`);
    fs.writeFileSync(file, conf);
    this.proc = this.lab.spawn(this.node, process.execPath, [BIN, 'run', '-f', file]);
    await this.proc.waitForJson<LogLine>((o) => o.event === 'started', { timeoutMs });
  }

  private get p(): LabProcess {
    if (!this.proc) throw new Error(`lvsd not started in ${this.node}`);
    return this.proc;
  }

  mark(): number {
    return this.p.mark();
  }

  /** Parsed log lines from line `since`. */
  log(since = 0): LogLine[] {
    return this.p.json<LogLine>(since);
  }

  /** State changes of an instance, in order. */
  states(instance: string, since = 0): StateEvent[] {
    return this.log(since)
      .filter((o) => o.event === 'state' && o.instance === instance)
      .map((o) => ({ ...(o as unknown as StateEvent), t: Date.parse(o.time as string) }));
  }

  /** Current state as logged (undefined before the first change). */
  state(instance: string): string | undefined {
    return this.states(instance).at(-1)?.to;
  }

  /** Wait for a change of `instance` into `to` after line `since` (default: any line). */
  async waitState(instance: string, to: string, opts: { since?: number; timeoutMs?: number } = {}): Promise<StateEvent> {
    const o = await this.p.waitForJson<LogLine>((x) => x.event === 'state' && x.instance === instance && x.to === to, {
      timeoutMs: opts.timeoutMs ?? 10_000,
      ...(opts.since !== undefined ? { since: opts.since } : {}),
    });
    return { ...(o as unknown as StateEvent), t: Date.parse(o.time as string) };
  }

  /** Wait for any JSON line matching pred after `since`. */
  waitLog(pred: (o: LogLine) => boolean, opts: { since?: number; timeoutMs?: number } = {}): Promise<LogLine> {
    return this.p.waitForJson<LogLine>(pred, { timeoutMs: opts.timeoutMs ?? 10_000, ...(opts.since !== undefined ? { since: opts.since } : {}) });
  }

  /** SIGKILL the whole process group (a crash: no priority-0 advert, VIPs stay on the interface). */
  async crash(): Promise<void> {
    await this.p.kill('SIGKILL');
  }

  /** SIGTERM (graceful); resolves with the exit status. */
  stop(graceMs = 5000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.p.kill('SIGTERM', graceMs);
  }

  get running(): boolean {
    return !!this.proc && !this.proc.hasExited;
  }

  /** Stop if running (for afterAll/afterEach). */
  async ensureStopped(): Promise<void> {
    if (this.running) await this.p.kill('SIGTERM', 3000);
  }
}

// ---- addresses, traffic ----------------------------------------------------------------

/** Addresses (no prefix) on a node's interface. */
export async function addrsOn(lab: Lab, node: string, dev = 'eth0'): Promise<string[]> {
  const j = await lab.ipJson<{ addr_info?: { local: string }[] }[]>(node, 'addr', 'show', 'dev', dev);
  return j.flatMap((l) => l.addr_info ?? []).map((a) => a.local);
}

/** Which of `nodes` hold `vip` on eth0. */
export async function holders(lab: Lab, nodes: readonly string[], vip: string): Promise<string[]> {
  const out: string[] = [];
  for (const n of nodes) if ((await addrsOn(lab, n)).includes(vip)) out.push(n);
  return out;
}

/** Wait until exactly `expected` (in order of `nodes`) hold the VIP; VIP adds are async to the state log. */
export async function waitHolders(lab: Lab, nodes: readonly string[], vip: string, expected: readonly string[], timeoutMs = 3000): Promise<string[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const h = await holders(lab, nodes, vip);
    if (h.join() === expected.join() || Date.now() > end) return h;
    await sleep(25);
  }
}

/** Start the name server on a node (port 80, all addresses). */
export async function startNameServer(lab: Lab, node: string, host = '0.0.0.0'): Promise<LabProcess> {
  const p = lab.spawnNode(node, path.join(FIXTURES, 'name-server.mjs'), [node, '80', host]);
  await p.waitForJson((o: LogLine) => o.ready === node, { timeoutMs: 10_000 });
  return p;
}

/** One GET through a new TCP connection from `client`; the answer names the director. */
export async function httpGet(lab: Lab, client: string, host: string, timeoutMs = 2000): Promise<{ body?: string; err?: string }> {
  const r = await lab.tryExec(client, process.execPath, path.join(FIXTURES, 'http-get.mjs'), host, '80', String(timeoutMs));
  try {
    return JSON.parse(r.stdout.trim()) as { body?: string; err?: string };
  } catch {
    return { err: `http-get exit ${r.code}: ${r.stderr.trim()}` };
  }
}

/** The link-layer address `client` has for `ip` (undefined when no usable entry). */
export async function neighMac(lab: Lab, client: string, ip: string): Promise<string | undefined> {
  const j = await lab.ipJson<{ dst: string; lladdr?: string; state?: string[] }[]>(client, 'neigh', 'show', 'to', ip, 'dev', 'eth0');
  const e = j.find((x) => x.dst === ip && x.lladdr);
  return e?.lladdr;
}

/** Wait until `client`'s neighbour entry for `ip` names `mac` (after a GARP/NA); returns what it has. */
export async function waitNeigh(lab: Lab, client: string, ip: string, mac: string, timeoutMs = 2000): Promise<string | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const m = await neighMac(lab, client, ip);
    if (m === mac || Date.now() > end) return m;
    await sleep(20);
  }
}

// ---- capture ---------------------------------------------------------------------------

export interface Frame {
  /** capture time, ms since the epoch (µs resolution) */
  t: number;
  src: string;
  dst: string;
  /** the rest of tcpdump's line */
  text: string;
}

/** tcpdump on the switch bridge (promiscuous: it sees unicast between ports too). */
export class Capture {
  private constructor(private readonly proc: LabProcess) {}

  static async start(lab: Lab, filter: string): Promise<Capture> {
    const proc = lab.spawn('sw', 'tcpdump', ['-l', '-n', '-e', '-tt', '--immediate-mode', '-i', lab.bridge, filter]);
    const end = Date.now() + 5000;
    while (!/listening on/.test(proc.stderr)) {
      if (proc.hasExited || Date.now() > end) {
        await proc.kill('SIGKILL');
        throw new Error(`tcpdump did not start: ${proc.stderr}`);
      }
      await sleep(20);
    }
    return new Capture(proc);
  }

  frames(): Frame[] {
    const out: Frame[] = [];
    for (const l of this.proc.lines) {
      const m = /^(\d+\.\d+) ([0-9a-f:]{17}) > ([0-9a-f:]{17}), (.*)$/.exec(l);
      if (m) out.push({ t: Number(m[1]) * 1000, src: m[2]!, dst: m[3]!, text: m[4]! });
    }
    return out;
  }

  async waitFor(pred: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const f = this.frames().find(pred);
      if (f) return f;
      if (Date.now() > end) throw new Error(`no matching frame in ${timeoutMs} ms; last frames:\n${this.proc.lines.slice(-15).join('\n')}`);
      await sleep(20);
    }
  }

  async stop(): Promise<void> {
    // SIGINT: tcpdump flushes what it has before exiting
    await this.proc.kill('SIGINT', 2000);
  }
}

export interface Advert extends Frame {
  prio: number;
  /** IP source and destination */
  from: string;
  to: string;
}

/** VRRP adverts of one VRID in a capture (tcpdump decodes them: "A > B: VRRPv3, Advertisement, vrid 51, prio 150, ..."). */
export function adverts(frames: readonly Frame[], vrid: number): Advert[] {
  const out: Advert[] = [];
  for (const f of frames) {
    const m = /: (\S+) > (\S+): VRRPv[23], Advertisement, vrid (\d+), prio (\d+)/.exec(f.text);
    if (m && Number(m[3]) === vrid) out.push({ ...f, from: m[1]!, to: m[2]!, prio: Number(m[4]) });
  }
  return out;
}

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A gratuitous ARP request for `ip`: broadcast, sender IP = target IP (tcpdump shows a non-zero target MAC in parentheses). */
export const isGarp = (ip: string) => {
  const re = new RegExp(`ethertype ARP .*Request who-has ${esc(ip)} (\\([0-9a-f:]+\\) )?tell ${esc(ip)},`);
  return (f: Frame): boolean => f.dst === 'ff:ff:ff:ff:ff:ff' && re.test(f.text);
};
