// `lvsd realserver up|down`: prepare (or restore) a real server of an LVS-DR / LVS-TUN service.
// The logic is in src/daemon/realserver.ts; this is argument handling and output.
import { deviceFor, parseVips, RealserverError, realserverDown, realserverUp, type RealserverDeps, type RealserverMode, type RealserverReport } from '../daemon/realserver.js';
import { currentNetns, DEFAULT_STATE_PATH, fileStateStore, StateFileError } from '../daemon/realserver-state.js';
import { has, parseArgs, UsageError, value, type OptSpec } from './args.js';
import type { Output } from './check.js';

export const REALSERVER_HELP = `Usage:
  lvsd realserver up   --vip VIP [--vip VIP ...] --mode dr|tun [--dev DEV] [--state FILE]
  lvsd realserver down [--vip VIP ...] [--state FILE]

Prepare this host as a real server of an LVS direct-routing (dr) or IP-tunnel (tun) service:
  dr   each VIP on lo (or DEV) as a /32 (scope host) or /128; net.ipv4.conf.{all,DEV}.arp_ignore=1
       and arp_announce=2, so the VIP is accepted but never answered in ARP
  tun  each VIP on tunl0 (IPv4, ipip) or ip6tnl0 (IPv6), created and set up if needed; the same
       ARP settings, and net.ipv4.conf.tunl0.rp_filter=2 so decapsulated packets are accepted
up is idempotent. Everything it changes is recorded in the state file; down removes only the
addresses up added and restores the previous sysctl values (with --vip: only those VIPs; the
sysctls when none is left).

Options:
  --vip VIP      virtual address (IPv4 or IPv6; /32 or /128 allowed), repeatable
  --mode MODE    dr or tun (up)
  --dev DEV      device for the VIPs (default lo for dr, tunl0/ip6tnl0 for tun)
  --state FILE   state file (default ${DEFAULT_STATE_PATH}; one per network namespace)
Exit codes: 0 done, 1 failed (nothing half-done is forgotten: run down to undo), 2 usage error.
`;

const SPECS: OptSpec[] = [
  { long: 'help', short: 'h' },
  { long: 'vip', value: true, repeat: true },
  { long: 'mode', value: true },
  { long: 'dev', value: true },
  { long: 'state', value: true },
];

function print(rep: RealserverReport, io: Output): void {
  for (const c of rep.changes) io.out(c);
  for (const u of rep.unchanged) io.out(`unchanged: ${u}`);
  for (const w of rep.warnings) io.err(`lvsd realserver: warning: ${w}`);
  if (rep.changes.length === 0) io.out('nothing changed');
}

/** Kernel-backed dependencies; the rtnetlink socket is opened only here (it needs the native addon). */
async function withKernel<T>(statePath: string, fn: (deps: RealserverDeps) => Promise<T>): Promise<T> {
  const [{ RtnlClient }, { readSysctl, writeSysctl }] = await Promise.all([import('../net/rtnetlink/client.js'), import('../net/interfaces.js')]);
  const rtnl = new RtnlClient();
  try {
    return await fn({
      rtnl,
      sysctl: { read: (k) => readSysctl(k), write: (k, v) => writeSysctl(k, v) },
      store: fileStateStore(statePath),
      netns: currentNetns(),
    });
  } finally {
    rtnl.close();
  }
}

export async function runRealserver(argv: readonly string[], io: Output): Promise<number> {
  let p;
  try {
    p = parseArgs(argv, SPECS);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`lvsd realserver: ${e.message}\n${REALSERVER_HELP}`);
      return 2;
    }
    throw e;
  }
  if (has(p, 'help')) {
    io.out(REALSERVER_HELP);
    return 0;
  }
  const action = p.positional[0];
  const usage = (msg: string): number => {
    io.err(`lvsd realserver: ${msg}\n${REALSERVER_HELP}`);
    return 2;
  };
  if (action !== 'up' && action !== 'down') return usage(action ? `unknown action "${action}" (up or down)` : 'up or down?');
  if (p.positional.length > 1) return usage(`unexpected argument "${p.positional[1]}"`);
  const vips = p.opts.get('vip') ?? [];
  const mode = value(p, 'mode');
  const dev = value(p, 'dev');
  const statePath = value(p, 'state') ?? DEFAULT_STATE_PATH;
  if (action === 'up') {
    if (vips.length === 0) return usage('up needs at least one --vip');
    if (mode !== 'dr' && mode !== 'tun') return usage(mode === undefined ? 'up needs --mode dr|tun' : `bad --mode "${mode}" (dr or tun)`);
  } else if (mode !== undefined && mode !== 'dr' && mode !== 'tun') return usage(`bad --mode "${mode}" (dr or tun)`);
  try {
    if (vips.length) parseVips(vips);
    if (dev !== undefined) deviceFor('dr', 'inet', dev);
  } catch (e) {
    return usage((e as Error).message);
  }

  if ((process.getuid?.() ?? 0) !== 0) {
    io.err('lvsd realserver: must run as root (it changes addresses and sysctls)');
    return 1;
  }
  try {
    const rep = await withKernel(statePath, (deps) =>
      action === 'up'
        ? realserverUp({ vips, mode: mode as RealserverMode, ...(dev !== undefined ? { dev } : {}) }, deps)
        : realserverDown({ vips }, deps),
    );
    print(rep, io);
    return 0;
  } catch (e) {
    if (e instanceof RealserverError || e instanceof StateFileError) {
      io.err(`lvsd realserver ${action}: ${e.message}`);
      return 1;
    }
    io.err(`lvsd realserver ${action}: ${(e as Error).message ?? String(e)}`);
    return 1;
  }
}
