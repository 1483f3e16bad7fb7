// VRRP core: public API. Everything here is pure (sans-I/O): no sockets, timers or processes.
// Time is `now`, monotonic milliseconds (fractions allowed, e.g. performance.now()).
//
// ── Driving it (daemon side) ────────────────────────────────────────────────────────────────
//   const node = new VrrpNode(config, (inst) => ({ primaryAddress: <iface IPv4 primary | IPv6 link-local> }));
//   node.setInterface('eth0', true, now)   // initial link states (netlink), before start
//   exec(node.start(now))
//   raw socket (IPv4, proto 112 or 51 for AH): exec(node.receiveIpv4(ifname, datagram, now).actions)
//   raw socket (IPv6, proto 112):  exec(node.receiveIpv6(ifname, message, {src, dst, hopLimit}, now).actions)
//   timer fired:      exec(node.timerFired(instance, timerName, now))
//   link up/down:     exec(node.setInterface(ifname, up, now))
//   vrrp_script exit: exec(node.scriptResult(name, exitCode === 0 && !timedOut, now))
//   track_file write: exec(node.trackFileValue(name, parseTrackFileValue(contents), now))
//   no usable source address / no unicast peer: exec(node.setInstanceFault(name, reason | undefined, now))
//   SIGTERM:          exec(node.shutdown(now)); reload-removed instance: exec(node.deleteInstance(name, now))
//
// ── Mapping NodeActions to the edges (execute in order) ─────────────────────────────────────
//   transmit      → for each packet: IPv4: sendto(dst) on a raw IPPROTO_RAW/IP_HDRINCL socket bound
//                   to the interface (bytes are the whole datagram; multicast: IP_MULTICAST_IF, loop
//                   off, MSG_DONTROUTE). IPv6: sendmsg(dst) on a raw proto-112 socket with
//                   IPV6_PKTINFO(src, ifindex), hop limit `ttl`, tclass 0xc0.
//   startTimer    → (re)arm the one timer named `timer` of `instance` at absolute `at`;
//                   stopTimer → cancel it. On expiry call timerFired(instance, timer, now). Firing
//                   late is fine; firing > 1 ms early is answered with a re-arm.
//   addVips       → netlink RTM_NEWADDR for vips + excluded (dev ?? instance interface, prefix,
//                   brd, scope, label, nodad), then virtual routes/rules; if !accept, install the
//                   no_accept drop rules for those addresses (nftables). removeVips → the reverse;
//                   "already absent" is not an error (also sent at startup to clear a crashed run).
//   sendGarp      → per send: kind 'garp' = ARP request (op 1) sender IP = target IP = VIP, target
//                   MAC ff:ff:ff:ff:ff:ff, Ethernet src = interface MAC, dst broadcast, on `dev`;
//                   kind 'na' = unsolicited NA from the VIP to ff02::1, override flag (router flag if
//                   forwarding), target link-layer option. Via AF_PACKET.
//   notify        → kind 'script': run `command` (split like keepalived: spaces, quotes) + `args`
//                   as `user`, fire-and-forget (STOP: wait up to timeoutMs); kind 'fifo': write
//                   `line` to notify_fifo and vrrp_notify_fifo, in order.
//   stateChange   → logging/metrics; LVS sync daemon master/backup switch; everything else the
//                   transition needs has its own action. priorityChange / masterRxLowerPri /
//                   log: logging (their FIFO lines come as notify actions).
// Sockets must join the VRRP group (IP_ADD_MEMBERSHIP / IPV6_JOIN_GROUP) — see lab gotcha 1 —
// and should not loop our own multicast back. IPv6 sockets need IPV6_RECVPKTINFO and
// IPV6_RECVHOPLIMIT so receiveIpv6 gets dst and hop limit. AH instances need a proto-51 socket.
export type { Action, TimerName, TransitionReason, VipSet, VrrpState } from './actions.js';
export { AhCounter, authKey, computeAhIcv } from './ah.js';
export { compareAddr } from './addr.js';
export { decodeVrrp, encodeVrrp, vrrpMessageLength } from './codec.js';
export { VrrpFsm, type FaultState, type FsmEvent, type StepResult } from './fsm.js';
export { GarpSchedule, type GarpConfig, type GarpSend, type GarpTarget } from './garp.js';
export {
  instanceConfigFromModel,
  type InstanceConfig,
  type InterfaceFacts,
  type VrrpGlobals,
} from './instance-config.js';
export { decodeIpv4Vrrp, encodeIpv4Vrrp, type Ipv4Header, type Ipv4Vrrp } from './ipv4.js';
export { VrrpNode, type NodeAction, type NodeConfig, type ReceiveResult } from './node.js';
export * from './notify.js';
export * from './packet.js';
export { checkAdvert, rxFromIpv4, rxFromIpv6, type Ipv6RxMeta, type RxPacket } from './receive.js';
export { SyncGroupCoordinator, type GroupState } from './sync-group.js';
export { masterDownMs, normaliseAdvertIntMs, skewMs } from './timers.js';
export {
  computeTracking,
  parseTrackFileValue,
  ScriptCounter,
  TrackerWorld,
  trackingSpec,
  type TrackedItem,
  type TrackingResult,
  type TrackingSpec,
} from './trackers.js';
export { AdvertWriter, type OutgoingAdvert } from './writer.js';
