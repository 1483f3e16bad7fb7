// rtnetlink edge: list/add/delete addresses, list links, and a monitor for link/address events.
// The daemon manages VIPs through this; it never shells out to `ip`.
import { C } from '../native.js';
import { NLM_F_CREATE, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_EXCL, NLM_F_REPLACE, type NlMsg } from '../netlink/codec.js';
import { NetlinkError, NetlinkSocket } from '../netlink/socket.js';
import {
  decodeAddr,
  decodeLink,
  decodeRtnlEvent,
  encodeDelAddr,
  encodeDelLink,
  encodeGetAddrDump,
  encodeGetLink,
  encodeGetLinkDump,
  encodeNewAddr,
  encodeNewLink,
  encodeSetLinkUp,
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_GETADDR,
  RTM_GETLINK,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTNLGRP_IPV4_IFADDR,
  RTNLGRP_IPV6_IFADDR,
  RTNLGRP_LINK,
  type AddrInfo,
  type AddressSpec,
  type IpFamily,
  type LinkInfo,
  type RtnlEvent,
} from './codec.js';

export { NetlinkError };

/** The kernel said the address is already there (add without replace). */
export function isAlreadyExists(e: unknown): boolean {
  return e instanceof NetlinkError && e.code === 'EEXIST';
}

/** The kernel said there is no such address (delete). */
export function isAddressNotAvailable(e: unknown): boolean {
  return e instanceof NetlinkError && e.code === 'EADDRNOTAVAIL';
}

/** The interface does not exist (any request naming it). */
export function isNoDevice(e: unknown): boolean {
  return e instanceof NetlinkError && e.code === 'ENODEV';
}

const describe = (s: { address: string; prefixLen: number; ifindex: number }): string => `${s.address}/${s.prefixLen} on ifindex ${s.ifindex}`;

export interface RtnlClientOptions {
  timeoutMs?: number;
}

/** Request/response client. One socket without multicast groups, so event floods cannot overrun answers. */
export class RtnlClient {
  private readonly sock: NetlinkSocket;

  constructor(opts: RtnlClientOptions = {}) {
    this.sock = new NetlinkSocket(C('NETLINK_ROUTE'), { timeoutMs: opts.timeoutMs ?? 5000, rcvbuf: 1 << 20 });
  }

  /** A dump, repeated (up to 3 times) when the kernel flags it as interrupted by a concurrent change. */
  private async dump(type: number, payload: Buffer, context: string): Promise<NlMsg[]> {
    for (let attempt = 0; ; attempt++) {
      const msgs = await this.sock.request(type, NLM_F_DUMP, payload, context);
      if (!msgs.some((m) => m.flags & NLM_F_DUMP_INTR) || attempt >= 2) return msgs;
    }
  }

  async listLinks(): Promise<LinkInfo[]> {
    const msgs = await this.dump(RTM_GETLINK, encodeGetLinkDump(), 'list links');
    return msgs.filter((m) => m.type === RTM_NEWLINK).map((m) => decodeLink(m.payload));
  }

  /** One link by name or index; null when it does not exist. */
  async getLink(which: string | number): Promise<LinkInfo | null> {
    try {
      const msgs = await this.sock.request(RTM_GETLINK, 0, encodeGetLink(which), `get link ${which}`);
      const m = msgs.find((x) => x.type === RTM_NEWLINK);
      return m ? decodeLink(m.payload) : null;
    } catch (e) {
      if (isNoDevice(e)) return null;
      throw e;
    }
  }

  /** Addresses in kernel order (for IPv4 the primary of a subnet comes before its secondaries). */
  async listAddresses(filter: { family?: IpFamily; ifindex?: number } = {}): Promise<AddrInfo[]> {
    const msgs = await this.dump(RTM_GETADDR, encodeGetAddrDump(filter.family), 'list addresses');
    const out: AddrInfo[] = [];
    for (const m of msgs) {
      if (m.type !== RTM_NEWADDR) continue;
      const a = decodeAddr(m.payload);
      if (!a) continue;
      if (filter.family && a.family !== filter.family) continue;
      if (filter.ifindex && a.ifindex !== filter.ifindex) continue;
      out.push(a);
    }
    return out;
  }

  /**
   * Add an address (like `ip addr add`; with replace: `ip addr replace`).
   * Resolves true when added; with ignoreExisting, resolves false when it was already there.
   * Otherwise an existing address rejects with NetlinkError code EEXIST (see isAlreadyExists).
   */
  async addAddress(spec: AddressSpec, opts: { replace?: boolean; ignoreExisting?: boolean } = {}): Promise<boolean> {
    const flags = NLM_F_CREATE | (opts.replace ? NLM_F_REPLACE : NLM_F_EXCL);
    try {
      await this.sock.request(RTM_NEWADDR, flags, encodeNewAddr(spec), `add address ${describe(spec)}`);
      return true;
    } catch (e) {
      if (opts.ignoreExisting && isAlreadyExists(e)) return false;
      throw e;
    }
  }

  /**
   * Delete an address. Resolves true when deleted; with ignoreMissing, false when it was not there.
   * Otherwise a missing address rejects with NetlinkError code EADDRNOTAVAIL (see isAddressNotAvailable).
   * Note the kernel rule: deleting an IPv4 primary also deletes its secondaries unless promote_secondaries.
   */
  async deleteAddress(
    spec: Pick<AddressSpec, 'ifindex' | 'address' | 'prefixLen' | 'peer' | 'label'>,
    opts: { ignoreMissing?: boolean } = {},
  ): Promise<boolean> {
    try {
      await this.sock.request(RTM_DELADDR, 0, encodeDelAddr(spec), `delete address ${describe(spec)}`);
      return true;
    } catch (e) {
      if (opts.ignoreMissing && isAddressNotAvailable(e)) return false;
      throw e;
    }
  }

  /**
   * Create a link of an rtnl kind with default parameters (`ip link add NAME type KIND`).
   * Resolves true when created, false when a link of that name already exists. A kind the kernel
   * does not have rejects with NetlinkError errno 95 (code 'ENOTSUP' in Node's naming; EOPNOTSUPP).
   */
  async createLink(name: string, kind: string): Promise<boolean> {
    try {
      await this.sock.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, encodeNewLink(name, kind), `create ${kind} link ${name}`);
      return true;
    } catch (e) {
      if (isAlreadyExists(e)) return false;
      throw e;
    }
  }

  /** Set a link administratively up or down (`ip link set DEV up|down`). */
  async setLinkUp(ifindex: number, up: boolean): Promise<void> {
    await this.sock.request(RTM_NEWLINK, 0, encodeSetLinkUp(ifindex, up), `set ifindex ${ifindex} ${up ? 'up' : 'down'}`);
  }

  /** Delete a link (`ip link del DEV`). */
  async deleteLink(ifindex: number): Promise<void> {
    await this.sock.request(RTM_DELLINK, 0, encodeDelLink(ifindex), `delete link ifindex ${ifindex}`);
  }

  close(): void {
    this.sock.close();
  }
}

export interface RtnlMonitorOptions {
  /** which groups (default: all three) */
  link?: boolean;
  ipv4?: boolean;
  ipv6?: boolean;
  /** events were lost (ENOBUFS): the owner must relist links and addresses */
  onOverrun?: () => void;
  /** a message that could not be decoded, or a handler that threw; the monitor keeps going */
  onError?: (e: Error) => void;
  /** receive buffer; default 4 MiB (address floods during a big failover) */
  rcvbuf?: number;
}

/**
 * Subscribes to RTNLGRP_LINK / RTNLGRP_IPV4_IFADDR / RTNLGRP_IPV6_IFADDR and delivers typed events.
 * Start the monitor *before* listing, then apply events on top of the list, so nothing falls in between.
 * The socket does not keep the process alive unless keepAlive(true).
 */
export class RtnlMonitor {
  private readonly sock: NetlinkSocket;
  /** events delivered / messages that failed to decode / overruns */
  readonly stats = { events: 0, decodeErrors: 0, handlerErrors: 0, overruns: 0 };

  constructor(
    private readonly onEvent: (ev: RtnlEvent) => void,
    private readonly opts: RtnlMonitorOptions = {},
  ) {
    const groups: number[] = [];
    if (opts.link ?? true) groups.push(RTNLGRP_LINK);
    if (opts.ipv4 ?? true) groups.push(RTNLGRP_IPV4_IFADDR);
    if (opts.ipv6 ?? true) groups.push(RTNLGRP_IPV6_IFADDR);
    this.sock = new NetlinkSocket(C('NETLINK_ROUTE'), { groups, rcvbuf: opts.rcvbuf ?? 4 << 20 });
    this.sock.onEvent = (m) => this.deliver(m);
    this.sock.onError = (e) => {
      if ((e as NodeJS.ErrnoException).code === 'ENOBUFS') {
        this.stats.overruns++;
        this.safe(() => this.opts.onOverrun?.());
      } else {
        this.stats.decodeErrors++;
        this.report(e);
      }
    };
  }

  /** Run owner code from the socket callback: a throw must not escape into the native reader. */
  private safe(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.stats.handlerErrors++;
      this.report(e as Error);
    }
  }

  private report(e: Error): void {
    try {
      this.opts.onError?.(e);
    } catch {
      // an error handler that throws has nowhere left to report to
    }
  }

  private deliver(m: NlMsg): void {
    let ev: RtnlEvent | null;
    try {
      ev = decodeRtnlEvent(m);
    } catch (e) {
      this.stats.decodeErrors++;
      this.report(e as Error);
      return;
    }
    if (!ev) return;
    this.stats.events++;
    this.safe(() => this.onEvent(ev));
  }

  /** Keep the process alive while subscribed (daemon mode). */
  keepAlive(on: boolean): void {
    this.sock.keepAlive(on);
  }

  close(): void {
    this.sock.close();
  }
}
