// VRRP advert timestamper for the isolation benchmark: an AF_PACKET socket (ETH_P_IP) on one
// interface with SO_TIMESTAMPNS, so every advert carries the kernel's receive timestamp
// (CLOCK_REALTIME, ns), taken when the frame was queued to this interface; veth delivers
// synchronously from the sender's transmit path, so it is the send time give or take a few us.
// How late this process itself reads the socket does not matter.
//
//   node dist/bench/isolation/observer.js IFNAME
// stdout: {"ready":true}, then one line per advert: "A <ns since epoch> <src> <vrid> <priority>"
// (lines are batched every 100 ms). SIGTERM/SIGINT: flush and exit.
import { RawSocket } from '../../src/net/socket.js';
import { C } from '../../src/net/native.js';
import { parseCmsgs, sockaddrLl, ipv4String } from '../../src/net/sockaddr.js';
import { ifIndex } from '../../src/net/interfaces.js';

// asm-generic/socket.h (x86_64, aarch64): SO_TIMESTAMPNS_OLD = SCM_TIMESTAMPNS_OLD = 35,
// struct timespec = two 64-bit fields
const SO_TIMESTAMPNS = 35;
const ETH_P_IP = 0x0800;
const IPPROTO_VRRP = 112;

const ifname = process.argv[2];
if (!ifname) {
  process.stderr.write('usage: observer.js IFNAME\n');
  process.exit(2);
}

const htons = (x: number): number => ((x & 0xff) << 8) | ((x >> 8) & 0xff);
const sock = new RawSocket(C('AF_PACKET'), C('SOCK_RAW'), htons(ETH_P_IP));
sock.bind(sockaddrLl(ifIndex(ifname), ETH_P_IP));
sock.setOption(C('SOL_SOCKET'), SO_TIMESTAMPNS, 1);
// a starved observer must not lose adverts: room for minutes of them
sock.setOption(C('SOL_SOCKET'), C('SO_RCVBUFFORCE'), 8 << 20);

const out: string[] = [];
let noStamp = 0;
sock.startReading(
  (p) => {
    const f = p.data;
    if (f.length < 14 + 20 + 8 || f[14 + 9] !== IPPROTO_VRRP) return;
    const ihl = (f[14]! & 0x0f) * 4;
    const v = 14 + ihl;
    if (f.length < v + 4) return;
    let ns: bigint | null = null;
    for (const c of parseCmsgs(p.cmsg)) {
      if (c.level === C('SOL_SOCKET') && c.type === SO_TIMESTAMPNS && c.data.length >= 16) {
        ns = c.data.readBigInt64LE(0) * 1_000_000_000n + c.data.readBigInt64LE(8);
      }
    }
    if (ns === null) {
      noStamp++;
      return;
    }
    out.push(`A ${ns} ${ipv4String(f, 14 + 12)} ${f[v + 1]} ${f[v + 2]}`);
  },
  (err) => process.stderr.write(`observer: receive error: ${err.message}\n`),
  2048,
);

function flush(): void {
  if (out.length) process.stdout.write(`${out.join('\n')}\n`);
  out.length = 0;
}
setInterval(flush, 100);
function stop(): void {
  flush();
  if (noStamp) process.stdout.write(`${JSON.stringify({ noTimestamp: noStamp })}\n`);
  sock.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
