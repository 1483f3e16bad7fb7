// A small owned-fd socket over the native layer: options, bind, send, and a read callback.
import { native, type RecvResult } from './native.js';

export type PacketHandler = (pkt: RecvResult) => void;
export type ErrorHandler = (err: NodeJS.ErrnoException) => void;

export class RawSocket {
  readonly fd: number;
  private reader: unknown = null;
  private closed = false;

  constructor(domain: number, type: number, protocol: number) {
    this.fd = native().socket(domain, type, protocol);
  }

  setOption(level: number, name: number, value: number | Uint8Array): void {
    native().setsockopt(this.fd, level, name, value);
  }

  getOption(level: number, name: number, len: number): Buffer {
    return native().getsockopt(this.fd, level, name, len);
  }

  bind(sockaddr: Uint8Array): void {
    native().bind(this.fd, sockaddr);
  }

  sockname(): Buffer {
    return native().getsockname(this.fd);
  }

  /** Send one datagram; throws NodeJS.ErrnoException (code EAGAIN, ENETDOWN, ...) on failure. */
  send(data: Uint8Array, to?: Uint8Array | null, cmsg?: Uint8Array | null): number {
    return native().sendto(this.fd, data, to ?? null, cmsg ?? null);
  }

  /** Synchronous non-blocking receive; null when nothing is queued. */
  recv(maxlen = 65536): RecvResult | null {
    return native().recvmsg(this.fd, maxlen);
  }

  /** Deliver every datagram to onPacket from the event loop; errors go to onError. */
  startReading(onPacket: PacketHandler, onError: ErrorHandler, maxlen = 65536): void {
    if (this.reader || this.closed) return;
    this.reader = native().startReader(this.fd, maxlen, (pkt, err) => {
      if (pkt) onPacket(pkt);
      else if (err) onError(err);
    });
  }

  /** Do not keep the process alive just for this socket. */
  unref(): void {
    if (this.reader) native().refReader(this.reader, false);
  }

  ref(): void {
    if (this.reader) native().refReader(this.reader, true);
  }

  stopReading(): void {
    if (this.reader) {
      native().stopReader(this.reader);
      this.reader = null;
    }
  }

  close(): void {
    if (this.closed) return;
    this.stopReading();
    this.closed = true;
    native().close(this.fd);
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
