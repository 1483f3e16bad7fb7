// Failure injector for the failover benchmark, run inside the failing director's namespace.
// Spawning `ip link set eth0 down` took 3–60 ms on a loaded machine, which moved the failure
// off the advert phase the benchmark aims for; this helper is already running (at realtime
// priority when allowed) and does the same with one netlink request.
//
//   node dist/bench/failover/fail-helper.js IFNAME
// stdin, one command per line; stdout: "ok CMD T_START T_DONE [T_KILLED]" (wall-clock ms) or "err CMD MESSAGE"
//   crash PID...  link down, then SIGKILL each PID in order (a negative PID is a process group)
//   term PID      SIGTERM
//   up            link up
import readline from 'node:readline';
import { RtnlClient } from '../../src/net/rtnetlink/client.js';
import { setLoopRealtime } from '../../src/daemon/sched.js';

const ifname = process.argv[2] ?? 'eth0';
const now = (): number => performance.timeOrigin + performance.now();
const rtnl = new RtnlClient();

try {
  setLoopRealtime(2); // above the daemons' event loops (lvsd uses 1), so the failure lands on time
} catch {
  // not permitted: normal priority
}

async function ifindex(): Promise<number> {
  const l = await rtnl.getLink(ifname);
  if (!l) throw new Error(`no interface ${ifname}`);
  return l.ifindex;
}

const idx = await ifindex();

function kill(pids: number[], sig: NodeJS.Signals): void {
  for (const p of pids) {
    try {
      process.kill(p, sig);
    } catch {
      // gone already
    }
  }
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const [cmd, ...rest] = line.trim().split(/\s+/);
  const pids = rest.map(Number).filter((x) => Number.isInteger(x) && x !== 0);
  const t0 = now();
  const done = (...t: number[]): void => {
    process.stdout.write(`ok ${cmd} ${t0.toFixed(3)} ${t.map((x) => x.toFixed(3)).join(' ')}\n`);
  };
  const fail = (e: unknown): void => {
    process.stdout.write(`err ${cmd} ${(e as Error).message}\n`);
  };
  if (cmd === 'crash') {
    rtnl.setLinkUp(idx, false).then(() => {
      const tDown = now();
      kill(pids, 'SIGKILL');
      done(tDown, now());
    }, fail);
  } else if (cmd === 'term') {
    kill(pids, 'SIGTERM');
    done(now());
  } else if (cmd === 'up') {
    rtnl.setLinkUp(idx, true).then(() => done(now()), fail);
  } else fail(new Error('unknown command'));
});
rl.on('close', () => {
  rtnl.close();
  process.exit(0);
});
console.log('ready');
