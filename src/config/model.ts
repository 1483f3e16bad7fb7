// The resolved configuration model: what the config layer produces and every subsystem reads.
//
// Conventions:
// - every time value is in milliseconds and its field name ends in `Ms`;
// - addresses are canonical text (see canonicalIp), families are 'inet' | 'inet6';
// - every element carries `loc`, its source location, for diagnostics at any later stage;
// - VRRP instances, virtual servers and real servers carry a stable `id` derived from what
//   identifies them on the wire or in the kernel (not from their position), so that a reload
//   can diff an old model against a new one (keepalived's vrrp_exist / vs_exist rules).
// The model is plain data (JSON-serialisable): `lvsd check --dump json` prints it as is.

export interface SourceLoc {
  file: string;
  line: number;
  col: number;
}

export type Family = 'inet' | 'inet6';

export interface Config {
  global: GlobalDefs;
  lvsd: LvsdSettings;
  vrrpScripts: Record<string, VrrpScript>;
  trackFiles: Record<string, TrackFile>;
  syncGroups: Record<string, SyncGroup>;
  instances: VrrpInstance[];
  virtualServerGroups: Record<string, VirtualServerGroup>;
  virtualServers: VirtualServer[];
  /** the files read, in order (main file first), for reload bookkeeping */
  files: string[];
}

// ---- global_defs ---------------------------------------------------------------------

export interface ScriptUser {
  user: string;
  group?: string;
}

export interface FifoSpec {
  path: string;
  /** script started to read the FIFO (keepalived's notify_fifo PATH [SCRIPT [user]]) */
  script?: string;
  user?: ScriptUser;
}

export interface LvsSyncDaemon {
  interface: string;
  /** VRRP instance whose state drives master/backup; absent = both daemons always run */
  instance?: string;
  /** defaults to the instance's VRID when an instance is named */
  syncId?: number;
  maxlen?: number;
  port?: number;
  ttl?: number;
  group?: string;
  loc: SourceLoc;
}

export interface LvsTimeouts {
  tcpMs?: number;
  tcpFinMs?: number;
  udpMs?: number;
}

export interface GlobalDefs {
  routerId?: string;
  notificationEmail: string[];
  notificationEmailFrom?: string;
  smtpServer?: { host: string; port: number };
  smtpHeloName?: string;
  smtpConnectTimeoutMs: number;
  smtpAlert: boolean;
  smtpAlertVrrp: boolean;
  smtpAlertChecker: boolean;
  checkerLogAllFailures: boolean;
  startupScript?: { path: string; user?: ScriptUser; timeoutMs: number };
  shutdownScript?: { path: string; user?: ScriptUser; timeoutMs: number };
  scriptUser?: ScriptUser;
  enableScriptSecurity: boolean;
  notifyFifo?: FifoSpec;
  vrrpNotifyFifo?: FifoSpec;
  lvsNotifyFifo?: FifoSpec;
  fifoWriteVrrpStatesOnReload: boolean;
  vrrpNotifyPriorityChanges: boolean;
  // VRRP defaults (instances inherit these when they do not set their own)
  vrrpMcastGroup4: string;
  vrrpMcastGroup6: string;
  vrrpVersion: 2 | 3;
  vrrpStrict: boolean;
  vrrpCheckUnicastSrc: boolean;
  vrrpSkipCheckAdvAddr: boolean;
  vrrpGarpMasterDelayMs: number;
  vrrpGarpMasterRepeat: number;
  vrrpGarpLowerPrioDelayMs?: number;
  vrrpGarpLowerPrioRepeat?: number;
  vrrpGarpMasterRefreshMs: number;
  vrrpGarpMasterRefreshRepeat: number;
  vrrpGarpIntervalMs: number;
  vrrpGnaIntervalMs: number;
  vrrpMinGarp: boolean;
  vrrpDownTimerAdverts: number;
  vrrpLowerPrioNoAdvert: boolean;
  vrrpHigherPrioSendAdvert: boolean;
  vrrpStartupDelayMs: number;
  /** SCHED_RR priority of the VRRP event loop (keepalived vrrp_rt_priority); 0 = normal scheduling; absent = lvsd's default (1 when root) */
  vrrpRtPriority?: number;
  dynamicInterfaces: boolean;
  // LVS
  lvsSyncDaemon?: LvsSyncDaemon;
  lvsTimeouts?: LvsTimeouts;
  lvsFlush: boolean;
  lvsFlushOnStop: 'none' | 'all' | 'vs';
  /** keepalived keywords accepted for compatibility that lvsd does not act on (reported as warnings) */
  ignored: string[];
}

// ---- lvsd-only settings (top-level `lvsd_defs { }` block) -----------------------------

export type DataplaneKind = 'auto' | 'ipvs' | 'nftables' | 'none';

export interface LvsdSettings {
  /** which kernel load balancer to program; auto = IPVS when the kernel has it, else nftables */
  dataplane: DataplaneKind;
  /** nftables table name owned by lvsd (the engine never touches other tables) */
  nftTable: string;
  /** how often the reconciler compares desired with kernel state and repairs drift */
  reconcileIntervalMs: number;
  /** unix socket for status/control; absent = disabled */
  controlSocket?: string;
  /** host:port for Prometheus metrics; absent = disabled */
  metricsListen?: string;
  /** how checkers are isolated from VRRP */
  checkerIsolation: 'process' | 'worker';
  loc?: SourceLoc;
}

// ---- VRRP ---------------------------------------------------------------------------

export interface VrrpScript {
  name: string;
  /** command line as written (keepalived splits it on spaces, honouring quotes) */
  script: string;
  intervalMs: number;
  timeoutMs: number;
  /** priority change while the script succeeds (weight > 0) or fails (weight < 0); 0 = FAULT on failure */
  weight: number;
  weightReverse: boolean;
  rise: number;
  fall: number;
  user?: ScriptUser;
  initFail: boolean;
  loc: SourceLoc;
}

export interface TrackFile {
  name: string;
  file: string;
  weight: number;
  weightReverse: boolean;
  initFile?: { value: number; overwrite: boolean };
  loc: SourceLoc;
}

export interface TrackRef {
  name: string;
  /** override of the tracked object's weight; undefined = use the object's own */
  weight?: number;
  reverse: boolean;
  loc: SourceLoc;
}

export interface NotifyScripts {
  master?: string;
  backup?: string;
  fault?: string;
  stop?: string;
  deleted?: string;
  /** generic `notify` script: called as SCRIPT GROUP|INSTANCE NAME STATE PRIORITY */
  generic?: string;
  /** run as this user; default from global script_user */
  user?: ScriptUser;
}

export interface SyncGroup {
  name: string;
  members: string[];
  trackInterfaces: TrackRef[];
  trackScripts: TrackRef[];
  trackFiles: TrackRef[];
  notify: NotifyScripts;
  notifyPriorityChanges: boolean;
  smtpAlert: boolean;
  loc: SourceLoc;
}

export interface VirtualIp {
  /** canonical address text */
  address: string;
  prefixLen: number;
  family: Family;
  /** interface to put it on; default: the instance's interface */
  dev?: string;
  brd?: string;
  scope?: string;
  label?: string;
  peer?: string;
  noDad: boolean;
  noTrack: boolean;
  /** "address/prefix dev" — unique within an instance */
  key: string;
  loc: SourceLoc;
}

export interface UnicastPeer {
  address: string;
  minTtl?: number;
  maxTtl?: number;
  loc: SourceLoc;
}

export type VrrpAuth =
  | { type: 'none' }
  | { type: 'PASS'; password: string }
  | { type: 'AH'; password: string };

export interface VrrpInstance {
  name: string;
  /** `vrrp:IFACE:FAMILY:VRID` — keepalived's vrrp_exist identity */
  id: string;
  initialState: 'MASTER' | 'BACKUP';
  interface: string;
  vrid: number;
  priority: number;
  /** configured advert interval (v2: whole seconds; v3: 10 ms steps) */
  advertIntMs: number;
  version: 2 | 3;
  family: Family;
  dontTrackPrimary: boolean;
  trackInterfaces: TrackRef[];
  trackScripts: TrackRef[];
  trackFiles: TrackRef[];
  mcastSrcIp?: string;
  unicastSrcIp?: string;
  unicastPeers: UnicastPeer[];
  unicastTtl?: number;
  unicastFaultNoPeer: boolean;
  mcastDstIp?: string;
  checkUnicastSrc: boolean;
  garpMasterDelayMs: number;
  garpMasterRepeat: number;
  garpMasterRefreshMs: number;
  garpMasterRefreshRepeat: number;
  garpLowerPrioDelayMs?: number;
  garpLowerPrioRepeat?: number;
  garpIntervalMs: number;
  gnaIntervalMs: number;
  downTimerAdverts: number;
  lowerPrioNoAdvert: boolean;
  higherPrioSendAdvert: boolean;
  auth: VrrpAuth;
  virtualIps: VirtualIp[];
  virtualIpsExcluded: VirtualIp[];
  /** virtual_routes / virtual_rules lines, kept verbatim (iproute2 syntax) */
  virtualRoutes: { text: string; loc: SourceLoc }[];
  virtualRules: { text: string; loc: SourceLoc }[];
  /** accept packets to the VIPs while master (v3 "Accept_Mode"); keepalived's default is accept unless strict */
  accept: boolean;
  preempt: boolean;
  preemptDelayMs: number;
  skipCheckAdvAddr: boolean;
  strictMode: boolean;
  useVmac: boolean;
  notify: NotifyScripts;
  notifyPriorityChanges: boolean;
  smtpAlert: boolean;
  /** the sync group this instance belongs to, filled in by the builder */
  syncGroup?: string;
  loc: SourceLoc;
}

// ---- LVS ----------------------------------------------------------------------------

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type LbKind = 'NAT' | 'DR' | 'TUN';
export type Scheduler =
  | 'rr' | 'wrr' | 'lc' | 'wlc' | 'lblc' | 'lblcr' | 'dh' | 'sh' | 'sed' | 'nq' | 'fo' | 'ovf' | 'mh' | 'twos';

export const SCHEDULERS: readonly Scheduler[] = [
  'rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh', 'twos',
];

export interface TunnelSpec {
  type: 'ipip' | 'gue' | 'gre';
  port?: number;
  csum?: 'nocsum' | 'csum' | 'remcsum';
}

export type VsGroupMember =
  | { kind: 'addr'; family: Family; /** first address */ address: string; /** last address of a range (inclusive) */ last?: string; port: number; loc: SourceLoc }
  | { kind: 'fwmark'; family: Family; fwmark: number; loc: SourceLoc };

export interface VirtualServerGroup {
  name: string;
  members: VsGroupMember[];
  loc: SourceLoc;
}

export type VsAddress =
  | { kind: 'ip'; family: Family; address: string; port: number }
  | { kind: 'fwmark'; family: Family; fwmark: number }
  | { kind: 'group'; family: Family; group: string };

export interface SchedFlags {
  flag1: boolean;
  flag2: boolean;
  flag3: boolean;
  /** one-packet scheduling (UDP) */
  ops: boolean;
}

export interface SorryServer {
  address: string;
  port: number;
  lbKind?: LbKind;
  inhibit: boolean;
  loc: SourceLoc;
}

/** Timers and policies a real server inherits from its virtual server unless it overrides them. */
export interface CheckPolicy {
  delayLoopMs: number;
  connectTimeoutMs: number;
  retry?: number;
  delayBeforeRetryMs: number;
  /** random initial delay spread [0, warmup]; default delay_loop */
  warmupMs?: number;
  alpha: boolean;
  inhibitOnFailure: boolean;
}

export interface VirtualServer {
  /** `vs:TCP:[10.0.0.1]:80`, `vs:fwmark:inet:5`, `vs:group:NAME:TCP` — keepalived's vs_exist identity */
  id: string;
  address: VsAddress;
  protocol: Protocol;
  scheduler: Scheduler;
  schedFlags: SchedFlags;
  lbKind: LbKind;
  tunnel?: TunnelSpec;
  persistenceTimeoutS?: number;
  persistenceGranularity?: string;
  persistenceEngine?: string;
  haSuspend: boolean;
  virtualhost?: string;
  omega: boolean;
  quorum: number;
  hysteresis: number;
  quorumUp?: string;
  quorumDown?: string;
  sorryServer?: SorryServer;
  policy: CheckPolicy;
  smtpAlert: boolean;
  realServers: RealServer[];
  /** lvsd extension: full NAT (DNAT + SNAT to this source address), nftables engine */
  fullNatSource?: string;
  loc: SourceLoc;
}

export interface RealServer {
  /** `${vs.id}/rs:[ip]:port` */
  id: string;
  address: string;
  family: Family;
  port: number;
  weight: number;
  lbKind?: LbKind;
  tunnel?: TunnelSpec;
  uthreshold?: number;
  lthreshold?: number;
  notifyUp?: string;
  notifyDown?: string;
  /** effective timers/policies after inheriting from the virtual server */
  policy: CheckPolicy;
  checkers: CheckerSpec[];
  smtpAlert: boolean;
  loc: SourceLoc;
}

// ---- checkers -----------------------------------------------------------------------

export interface CheckerCommon {
  /** address/port to probe; default the real server's */
  connectIp?: string;
  connectPort?: number;
  bindTo?: string;
  bindIf?: string;
  bindPort?: number;
  fwmark?: number;
  /** effective values (checker override > real server > virtual server > keepalived default) */
  connectTimeoutMs: number;
  delayLoopMs: number;
  retry: number;
  delayBeforeRetryMs: number;
  warmupMs: number;
  alpha: boolean;
  logAllFailures: boolean;
  loc: SourceLoc;
}

export interface HttpUrl {
  path: string;
  /** MD5 hex of the body */
  digest?: string;
  /** inclusive ranges; default [[200, 299]] */
  statusCodes: [number, number][];
  virtualhost?: string;
  regex?: string;
  regexNoMatch: boolean;
  regexOptions: string[];
  loc: SourceLoc;
}

export interface HttpCheck extends CheckerCommon {
  type: 'HTTP_GET' | 'SSL_GET';
  urls: HttpUrl[];
  httpProtocol: '1.0' | '1.0C' | '1.1';
  virtualhost?: string;
  fastRecovery: boolean;
  enableSni: boolean;
  sniName?: string;
  tlsCompliant: boolean;
}

export interface TcpCheck extends CheckerCommon {
  type: 'TCP_CHECK';
}

export interface SmtpCheck extends CheckerCommon {
  type: 'SMTP_CHECK';
  heloName: string;
}

export type DnsType = 'A' | 'NS' | 'CNAME' | 'SOA' | 'MX' | 'TXT' | 'AAAA';

export interface DnsCheck extends CheckerCommon {
  type: 'DNS_CHECK';
  queryType: DnsType;
  name: string;
}

export interface MiscCheck extends CheckerCommon {
  type: 'MISC_CHECK';
  path: string;
  timeoutMs: number;
  dynamic: boolean;
  user?: ScriptUser;
}

export interface UdpCheck extends CheckerCommon {
  type: 'UDP_CHECK';
  /** hex payload to send (empty = zero-length datagram) */
  payload?: string;
  /** when set, a reply is required; hex with 'X' nibbles matching anything */
  requireReply?: string;
  requireReplyAny: boolean;
  minReplyLength?: number;
  maxReplyLength?: number;
}

export interface PingCheck extends CheckerCommon {
  type: 'PING_CHECK';
}

export interface FileCheck extends CheckerCommon {
  type: 'FILE_CHECK';
  trackFile: string;
  dynamic: boolean;
  weight?: number;
  weightReverse: boolean;
}

/** lvsd extension: ldirectord-style request/receive negotiation. */
export interface NegotiateCheck extends CheckerCommon {
  type: 'NEGOTIATE_CHECK';
  /** http/https send an HTTP request for `request`; tcp writes `request` and reads; banner protocols read first */
  service: 'http' | 'https' | 'tcp' | 'smtp' | 'ftp' | 'pop' | 'imap' | 'nntp';
  request: string;
  /** regex the answer must match */
  receive: string;
  httpMethod: 'GET' | 'HEAD';
  virtualhost?: string;
}

export type CheckerSpec =
  | HttpCheck
  | TcpCheck
  | SmtpCheck
  | DnsCheck
  | MiscCheck
  | UdpCheck
  | PingCheck
  | FileCheck
  | NegotiateCheck;

export type CheckerType = CheckerSpec['type'];
