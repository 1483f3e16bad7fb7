// `lvsd realserver --mode tun` against a kernel that has IPIP (this host's has not): the IPVS VM
// (Debian 6.1), with ipip/ip6_tunnel taken from the VM's own kernel package and insmod'ed. One
// boot runs the whole scenario in two namespace pairs (director `d` with an ipip/ip6tnl tunnel to
// the real server, as IPVS TUN encapsulates):
//   r1: the kernel's fallback tunl0/ip6tnl0 exist (down): up sets them up, puts the VIPs on them,
//       loose rp_filter on tunl0 even with all.rp_filter=1; encapsulated pings are answered; with
//       strict rp_filter on tunl0 they are not (so the check can fail); up again = no change;
//       down restores the exact previous state;
//   r2: net.core.fb_tunnels_only_for_init_net=1, no fallback device: up creates tunl0, down deletes it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../../helpers/netns.js';
import { REPO_ROOT, runInVm, vmSkipReason, type VmResult } from '../../vm/vm.js';

const BUILD = process.env.LVSD_VM_BUILD ?? path.join(REPO_ROOT, 'test/vm/build');

function kernelDeb(): string | undefined {
  const dir = path.join(BUILD, 'debs');
  if (!fs.existsSync(dir)) return undefined;
  const deb = fs.readdirSync(dir).find((f) => /^linux-image-.*\.deb$/.test(f));
  return deb ? path.join(dir, deb) : undefined;
}

function skipReason(): string | undefined {
  const vm = vmSkipReason();
  if (vm) return vm;
  if (spawnSync('sh', ['-c', 'command -v dpkg-deb'], { stdio: 'ignore' }).status !== 0) return 'dpkg-deb is not installed';
  return undefined;
}

const MODULES = ['tunnel4', 'ip_tunnel', 'ipip', 'tunnel6', 'ip6_tunnel'];

// Prints "@@KEY value" lines; KEY names are asserted below.
const GUEST = (modDir: string): string => String.raw`
set -u
for m in ${MODULES.join(' ')}; do insmod ${modDir}/$m.ko || echo "@@INSMOD_FAILED $m"; done
L="node bin/lvsd.js realserver"
snap() { # addresses, links and sysctls of a namespace, normalised (no fe80, no ifindex)
  ip -n $1 -br link | awk '{print $1, $2}' | sed 's/@.*\s/ /'
  ip -n $1 -br addr | tr ' ' '\n' | grep -v '^fe80' | sort
  for k in all/rp_filter all/arp_ignore all/arp_announce tunl0/rp_filter tunl0/arp_ignore tunl0/arp_announce; do
    echo "$k=$(ip netns exec $1 cat /proc/sys/net/ipv4/conf/$k 2>/dev/null)"; done
}
setup() {
  ip netns add d; ip netns add $1
  ip -n d link add eth0 type veth peer name eth0 netns $1
  ip -n d addr add 10.0.0.1/24 dev eth0; ip -n $1 addr add 10.0.0.2/24 dev eth0
  ip -n d addr add fd00::1/64 dev eth0 nodad; ip -n $1 addr add fd00::2/64 dev eth0 nodad
  for n in d $1; do ip -n $n link set lo up; ip -n $n link set eth0 up; done
  ip -n d link add t4 type ipip local 10.0.0.1 remote 10.0.0.2; ip -n d link set t4 up
  ip -n d route add 10.0.0.100/32 dev t4
  ip -n d link add t6 type ip6tnl local fd00::1 remote fd00::2 mode ip6ip6; ip -n d link set t6 up
  ip -n d -6 route add fd00::100/128 dev t6
}
ping4() { ip netns exec d ping -c1 -W2 10.0.0.100 >/dev/null 2>&1 && echo ok || echo fail; }
ping6() { ip netns exec d ping -c1 -W2 fd00::100 >/dev/null 2>&1 && echo ok || echo fail; }

setup r1
ip netns exec r1 sh -c 'echo 1 > /proc/sys/net/ipv4/conf/all/rp_filter; echo 1 > /proc/sys/net/ipv4/conf/tunl0/rp_filter'
before=$(snap r1)
echo "@@R1_PING4_BEFORE $(ping4)"
out=$(ip netns exec r1 $L up --vip 10.0.0.100 --vip fd00::100 --mode tun --state /tmp/r1.json 2>&1); echo "@@R1_UP_RC $?"
echo "$out" | sed 's/^/@@R1_UP_OUT /'
echo "@@R1_TUNL0 $(ip -n r1 -br addr show dev tunl0 | awk '{print $2, $3}')"
echo "@@R1_IP6TNL0 $(ip -n r1 -br addr show dev ip6tnl0 | awk '{print $2, $3}')"
echo "@@R1_RPF $(ip netns exec r1 cat /proc/sys/net/ipv4/conf/tunl0/rp_filter) $(ip netns exec r1 cat /proc/sys/net/ipv4/conf/all/rp_filter)"
echo "@@R1_ARP $(ip netns exec r1 cat /proc/sys/net/ipv4/conf/all/arp_ignore) $(ip netns exec r1 cat /proc/sys/net/ipv4/conf/all/arp_announce)"
echo "@@R1_PING4 $(ping4)"
echo "@@R1_PING6 $(ping6)"
ip netns exec r1 sh -c 'echo 1 > /proc/sys/net/ipv4/conf/tunl0/rp_filter'
echo "@@R1_PING4_STRICT $(ping4)"
ip netns exec r1 sh -c 'echo 2 > /proc/sys/net/ipv4/conf/tunl0/rp_filter'
out=$(ip netns exec r1 $L up --vip 10.0.0.100 --vip fd00::100 --mode tun --state /tmp/r1.json 2>&1); echo "@@R1_UP2_RC $?"
echo "$out" | tail -1 | sed 's/^/@@R1_UP2_LAST /'
out=$(ip netns exec r1 $L down --state /tmp/r1.json 2>&1); echo "@@R1_DOWN_RC $?"
echo "$out" | sed 's/^/@@R1_DOWN_OUT /'
after=$(snap r1)
[ "$before" = "$after" ] && echo "@@R1_RESTORED yes" || { echo "@@R1_RESTORED no"; diff <(echo "$before") <(echo "$after"); }
[ -e /tmp/r1.json ] && echo "@@R1_STATE_LEFT yes" || echo "@@R1_STATE_LEFT no"
ip netns del d; ip netns del r1

echo 1 > /proc/sys/net/core/fb_tunnels_only_for_init_net
setup r2
echo "@@R2_HAS_TUNL0 $(ip -n r2 link show tunl0 >/dev/null 2>&1 && echo yes || echo no)"
out=$(ip netns exec r2 $L up --vip 10.0.0.100 --mode tun --state /tmp/r2.json 2>&1); echo "@@R2_UP_RC $?"
echo "$out" | sed 's/^/@@R2_UP_OUT /'
echo "@@R2_PING4 $(ping4)"
out=$(ip netns exec r2 $L down --state /tmp/r2.json 2>&1); echo "@@R2_DOWN_RC $?"
echo "$out" | sed 's/^/@@R2_DOWN_OUT /'
echo "@@R2_HAS_TUNL0_AFTER $(ip -n r2 link show tunl0 >/dev/null 2>&1 && echo yes || echo no)"
echo "@@DONE"
`;

const skip = skipReason();

describe.skipIf(skip !== undefined)(`lvsd realserver --mode tun in a kernel with IPIP (VM)${skip ? ` — skipped: ${skip}` : ''}`, () => {
  const modDir = path.join(REPO_ROOT, `.lvsd-tunmods-${process.pid}`); // .lvsd-* is git-ignored; the VM sees the repo
  let run: VmResult;
  const kv = new Map<string, string[]>();
  const one = (k: string): string | undefined => kv.get(k)?.[0];

  beforeAll(async () => {
    await ensureBuilt(['dist/src/cli/main.js', 'dist/src/cli/realserver.js', 'dist/src/daemon/realserver.js', 'dist/src/net/rtnetlink/client.js']);
    // on a fresh clone the VM image (and the kernel package it comes from) is built by its first
    // boot; this test may well be the first to need it
    if (!kernelDeb()) {
      const boot = await runInVm('true', { timeoutS: 600 });
      if (boot.code !== 0 || !kernelDeb()) throw new Error(`building the VM image failed (${boot.code}):\n${boot.log.slice(-3000)}`);
    }
    fs.mkdirSync(modDir, { recursive: true });
    const tar = spawnSync('sh', ['-c', `dpkg-deb --fsys-tarfile "$0" | tar -x -C "$1" --wildcards ${MODULES.map((m) => `'*/${m}.ko'`).join(' ')}`, kernelDeb()!, modDir], {
      encoding: 'utf8',
    });
    if (tar.status !== 0) throw new Error(`extracting tunnel modules failed: ${tar.stderr}`);
    const find = spawnSync('sh', ['-c', 'for f in $(find "$0" -name "*.ko"); do mv "$f" "$0"/; done', modDir]);
    if (find.status !== 0) throw new Error('collecting modules failed');
    run = await runInVm(GUEST(modDir), { timeoutS: 300 });
    for (const line of run.output.split('\n')) {
      const m = /^@@(\S+) ?(.*)$/.exec(line);
      if (m) kv.set(m[1]!, [...(kv.get(m[1]!) ?? []), m[2]!]);
    }
  }, 600_000);
  afterAll(() => fs.rmSync(modDir, { recursive: true, force: true }));

  const tail = (): string => `\n--- VM output (tail) ---\n${run?.output.slice(-4000)}\n--- log ---\n${run?.log.slice(-2000)}`;

  it('the VM ran the scenario to the end with the tunnel modules loaded', () => {
    expect(run.output, tail()).toContain('@@DONE');
    expect(kv.has('INSMOD_FAILED'), tail()).toBe(false);
  });

  it('up: fallback tunl0/ip6tnl0 set up with the VIPs; loose rp_filter on tunl0 despite all.rp_filter=1; ARP settings', () => {
    expect(one('R1_PING4_BEFORE')).toBe('fail');
    expect(one('R1_UP_RC'), tail()).toBe('0');
    expect(kv.get('R1_UP_OUT')).toEqual(expect.arrayContaining(['set tunl0 up', 'set ip6tnl0 up', 'net.ipv4.conf.tunl0.rp_filter 1 -> 2', 'added 10.0.0.100/32 to tunl0', 'added fd00::100/128 to ip6tnl0']));
    expect(one('R1_TUNL0')).toBe('UNKNOWN 10.0.0.100/32');
    expect(one('R1_IP6TNL0')).toMatch(/^UNKNOWN fd00::100\/128/);
    expect(one('R1_RPF')).toBe('2 1');
    expect(one('R1_ARP')).toBe('1 2');
  });

  it('encapsulated traffic to the VIPs is accepted (and would not be with strict rp_filter on tunl0)', () => {
    expect(one('R1_PING4'), tail()).toBe('ok');
    expect(one('R1_PING6'), tail()).toBe('ok');
    expect(one('R1_PING4_STRICT')).toBe('fail');
  });

  it('up twice changes nothing; down restores exactly the state before up', () => {
    expect(one('R1_UP2_RC')).toBe('0');
    expect(one('R1_UP2_LAST')).toBe('nothing changed');
    expect(one('R1_DOWN_RC'), tail()).toBe('0');
    expect(kv.get('R1_DOWN_OUT')).toEqual(expect.arrayContaining(['set tunl0 down', 'set ip6tnl0 down', 'net.ipv4.conf.tunl0.rp_filter 2 -> 1']));
    expect(one('R1_RESTORED'), tail()).toBe('yes');
    expect(one('R1_STATE_LEFT')).toBe('no');
  });

  it('without a fallback device lvsd creates tunl0 itself, and down deletes it', () => {
    expect(one('R2_HAS_TUNL0')).toBe('no');
    expect(one('R2_UP_RC'), tail()).toBe('0');
    expect(kv.get('R2_UP_OUT')).toEqual(expect.arrayContaining(['created ipip device tunl0', 'added 10.0.0.100/32 to tunl0']));
    expect(one('R2_PING4')).toBe('ok');
    expect(one('R2_DOWN_RC')).toBe('0');
    expect(kv.get('R2_DOWN_OUT')).toContain('deleted tunl0');
    expect(one('R2_HAS_TUNL0_AFTER')).toBe('no');
  });
});
