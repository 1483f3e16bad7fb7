// lvsd command line. Subcommands, plus keepalived's own flags so existing scripts and
// systemd units keep working (`lvsd -t -f FILE`, `lvsd -n -l -D -f FILE`).
import { has, parseArgs, UsageError, value, type OptSpec } from './args.js';
import { runCheck, type Output } from './check.js';
import { runRealserver } from './realserver.js';
import { runDaemon } from './run.js';
import { runDemo } from './demo.js';

export const DEFAULT_CONFIG = '/etc/keepalived/keepalived.conf';

const HELP = `lvsd - HA load-balancer director (VRRP + health checks + IPVS/nftables), keepalived.conf compatible

Usage:
  lvsd check -f FILE [--dump json] [--config-id ID] [--no-host-checks]
        Validate a configuration like keepalived -t. Prints FILE:LINE:COL: error|warning: message
        Exit codes: 0 clean, 3 cannot run, 4 errors that were fixed up, 5 warnings only.
  lvsd -t [-f FILE]            keepalived-compatible config test (same as check)
  lvsd run [-f FILE] [-P|-C] [-I] [-V] [-D] [-p PIDFILE]
        Run the director: VRRP, health checks and the data plane. keepalived's invocation
        (lvsd -n -l -D -f FILE) does the same. Logs are JSON lines on stdout.
  lvsd realserver up|down --vip VIP... --mode dr|tun [--dev DEV] [--state FILE]
        Prepare (or restore) this host as an LVS-DR/TUN real server (see lvsd realserver --help).
  lvsd demo                    live demo in network namespaces (root): failover and load balancing
  lvsd --help | --version

Options:
  -f, --use-file FILE     configuration file (default ${DEFAULT_CONFIG})
  -i, --config-id ID      id matched by @ID conditional lines (default: short host name)
  -t, --config-test[=LOG] test the configuration; diagnostics to LOG when given
      --dump json         print the resolved model as JSON (check)
      --no-host-checks    do not look for the configured interfaces on this host

lvsd-only settings go in a top-level lvsd_defs { } block; see README.md.
`;

const SPECS: OptSpec[] = [
  { long: 'help', short: 'h' },
  { long: 'version', short: 'v' },
  { long: 'use-file', short: 'f', value: true },
  { long: 'config-id', short: 'i', value: true },
  { long: 'config-test', short: 't', value: 'optional' },
  { long: 'dump', value: true },
  { long: 'no-host-checks' },
  // keepalived daemon flags
  { long: 'dont-fork', short: 'n' },
  { long: 'log-console', short: 'l' },
  { long: 'log-detail', short: 'D' },
  { long: 'vrrp', short: 'P' },
  { long: 'check', short: 'C' },
  { long: 'no_bfd', short: 'B' },
  { long: 'dont-release-vrrp', short: 'V' },
  { long: 'dont-release-ipvs', short: 'I' },
  { long: 'pid', short: 'p', value: true },
  { long: 'vrrp_pid', short: 'r', value: true },
  { long: 'checkers_pid', short: 'c', value: true },
  { long: 'log-facility', short: 'S', value: true },
  { long: 'no-syslog', short: 'G' },
];

const VERSION = '0.1.0';

export async function main(argv: readonly string[], io: Output = { out: (s) => console.log(s), err: (s) => console.error(s) }): Promise<number> {
  const sub = argv[0] && !argv[0].startsWith('-') ? argv[0] : undefined;
  const rest = sub ? argv.slice(1) : argv;
  // subcommands with their own options
  if (sub === 'realserver') return runRealserver(rest, io);
  if (sub === 'demo') return runDemo(io);
  let p;
  try {
    p = parseArgs(rest, SPECS);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`lvsd: ${e.message} (see lvsd --help)`);
      return 2;
    }
    throw e;
  }
  if (has(p, 'help')) {
    io.out(HELP);
    return 0;
  }
  if (has(p, 'version')) {
    io.out(`lvsd ${VERSION}`);
    return 0;
  }
  const file = value(p, 'use-file') ?? DEFAULT_CONFIG;
  const configId = value(p, 'config-id');
  const dump = value(p, 'dump');
  if (dump !== undefined && dump !== 'json') {
    io.err(`lvsd: --dump supports only json`);
    return 2;
  }
  if (sub === 'check' || (!sub && has(p, 'config-test'))) {
    const log = value(p, 'config-test');
    return runCheck(
      {
        file,
        ...(configId !== undefined ? { configId } : {}),
        ...(dump === 'json' ? { dump: 'json' as const } : {}),
        ...(log ? { logFile: log } : {}),
        hostChecks: !has(p, 'no-host-checks'),
      },
      io,
    );
  }
  // keepalived's own invocation has no subcommand: `lvsd -n -l -D -f FILE` runs the daemon
  if (sub === 'run' || (!sub && rest.length > 0)) {
    return runDaemon(
      {
        file,
        ...(configId !== undefined ? { configId } : {}),
        detail: has(p, 'log-detail'),
        vrrpOnly: has(p, 'vrrp'),
        lvsOnly: has(p, 'check'),
        keepVips: has(p, 'dont-release-vrrp'),
        keepIpvs: has(p, 'dont-release-ipvs'),
        ...(value(p, 'pid') ? { pidFile: value(p, 'pid')! } : {}),
      },
      io,
    );
  }
  if (sub) io.err(`lvsd: unknown command "${sub}" (see lvsd --help)`);
  else io.err('lvsd: nothing to do (see lvsd --help)');
  return 2;
}
