// AF_PACKET sockets: send whole Ethernet frames (GARP, unsolicited NA) on one interface, and
// optionally receive frames of one ethertype (tests, conflict detection).
import { RawSocket } from './socket.js';
import { C } from './native.js';
import { sockaddrLl } from './sockaddr.js';
import { ifIndex } from './interfaces.js';

/** sll_pkttype values */
export const PACKET_HOST = 0;
export const PACKET_BROADCAST = 1;
export const PACKET_MULTICAST = 2;
export const PACKET_OTHERHOST = 3;
export const PACKET_OUTGOING = 4;
export const ETH_P_ALL = 0x0003;

const htons = (x: number): number => ((x & 0xff) << 8) | ((x >> 8) & 0xff);

export interface ReceivedFrame {
  frame: Buffer;
  ifindex: number;
  /** ethertype from sockaddr_ll */
  protocol: number;
  /** PACKET_HOST / _BROADCAST / _MULTICAST / _OTHERHOST / _OUTGOING */
  pkttype: number;
}

export interface PacketSocketOptions {
  ifname: string;
  /** receive frames of this ethertype (ETH_P_ALL for all); omit for a send-only socket */
  receive?: number;
  onFrame?: (f: ReceivedFrame) => void;
  onError?: (e: Error) => void;
}

export class PacketSocket {
  readonly ifname: string;
  readonly ifindex: number;
  readonly stats = { sent: 0, sendErrors: 0, received: 0, recvErrors: 0, handlerErrors: 0 };
  private readonly sock: RawSocket;

  /** Throws ENODEV for a missing interface, EPERM without CAP_NET_RAW. */
  constructor(private readonly opts: PacketSocketOptions) {
    this.ifname = opts.ifname;
    this.ifindex = ifIndex(opts.ifname);
    // protocol 0: the kernel delivers nothing to this socket, so a sender costs no receive work
    const proto = opts.receive ?? 0;
    try {
      this.sock = new RawSocket(C('AF_PACKET'), C('SOCK_RAW'), htons(proto));
    } catch (e) {
      const err = e as Error;
      err.message = `packet socket on ${this.ifname} (needs CAP_NET_RAW): ${err.message}`;
      throw err;
    }
    try {
      this.sock.bind(sockaddrLl(this.ifindex, proto));
      if (opts.receive !== undefined) {
        this.sock.startReading(
          (p) => this.onPacket(p.data, p.addr),
          (err) => {
            this.stats.recvErrors++;
            this.report(new Error(`packet socket on ${this.ifname}: receive: ${err.message}`));
          },
          65536,
        );
      }
    } catch (e) {
      this.sock.close();
      throw e;
    }
  }

  private report(e: Error): void {
    try {
      this.opts.onError?.(e);
    } catch {
      // nowhere left to report
    }
  }

  private onPacket(data: Buffer, addr: Buffer): void {
    this.stats.received++;
    if (addr.length < 12) return;
    try {
      this.opts.onFrame?.({ frame: data, ifindex: addr.readInt32LE(4), protocol: addr.readUInt16BE(2), pkttype: addr[10]! });
    } catch (e) {
      this.stats.handlerErrors++;
      this.report(e as Error);
    }
  }

  /**
   * Send one complete Ethernet frame (destination MAC and ethertype are taken from it).
   * Throws NodeJS.ErrnoException (ENETDOWN when the link is down, ENXIO, ...), message prefixed.
   */
  send(frame: Uint8Array): void {
    if (frame.length < 14) throw new Error(`frame of ${frame.length} bytes is shorter than an Ethernet header`);
    const f = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
    try {
      this.sock.send(f, sockaddrLl(this.ifindex, f.readUInt16BE(12), f.subarray(0, 6)));
      this.stats.sent++;
    } catch (e) {
      this.stats.sendErrors++;
      const err = e as Error;
      err.message = `send frame on ${this.ifname}: ${err.message}`;
      throw err;
    }
  }

  /** Like send, but returns the error instead of throwing (for bursts where one failure is data). */
  trySend(frame: Uint8Array): Error | null {
    try {
      this.send(frame);
      return null;
    } catch (e) {
      return e as Error;
    }
  }

  unref(): void {
    this.sock.unref();
  }

  close(): void {
    this.sock.close();
  }
}
