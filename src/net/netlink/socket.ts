// Netlink socket edge: request/response matching by sequence number, dumps, ACKs, events.
import util from 'node:util';
import { RawSocket } from '../socket.js';
import { C } from '../native.js';
import { decodeSockaddr, sockaddrNl } from '../sockaddr.js';
import {
  decodeError,
  decodeFamilyId,
  decodeMessages,
  encodeMessage,
  getFamilyPayload,
  GENL_ID_CTRL,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLMSG_NOOP,
  type NlMsg,
} from './codec.js';

/** A kernel refusal, with errno name and the kernel's extended-ack text when it gave one. */
export class NetlinkError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly extMessage: string | undefined;
  constructor(errno: number, context: string, extMessage?: string) {
    const entry = util.getSystemErrorMap().get(-errno);
    const code = entry?.[0] ?? `errno ${errno}`;
    const text = entry?.[1] ?? 'unknown error';
    super(`${context}: ${text} (${code})${extMessage ? `: ${extMessage}` : ''}`);
    this.name = 'NetlinkError';
    this.errno = errno;
    this.code = code;
    this.extMessage = extMessage;
  }
}

interface Pending {
  replies: NlMsg[];
  context: string;
  resolve: (msgs: NlMsg[]) => void;
  reject: (e: Error) => void;
  /** only the last request of a batch has a timer */
  timer: NodeJS.Timeout | undefined;
}

export interface NetlinkSocketOptions {
  /** multicast groups to join (numbers as in the kernel's *_MCGRP / RTNLGRP_* enums) */
  groups?: number[];
  /** per-request timeout; the kernel answers in microseconds, so a timeout means a lost socket */
  timeoutMs?: number;
  /** receive buffer (events can burst: address floods, many links) */
  rcvbuf?: number;
}

export class NetlinkSocket {
  private readonly sock: RawSocket;
  private seq: number;
  private readonly pending = new Map<number, Pending>();
  /** requestBatch(): seq of a batch's last (ACKed) request -> seqs of the others */
  private readonly batches = new Map<number, number[]>();
  /** batches in flight when the receive queue overran: their silent successes are not proof */
  private readonly overrun = new Set<number>();
  private readonly timeoutMs: number;
  private alive = false;
  readonly portId: number;
  /** unsolicited messages (multicast events) */
  onEvent: ((m: NlMsg) => void) | null = null;
  /** socket-level trouble such as ENOBUFS (events were lost: the owner must resync) */
  onError: ((e: Error) => void) | null = null;

  constructor(protocol: number, opts: NetlinkSocketOptions = {}) {
    this.sock = new RawSocket(C('AF_NETLINK'), C('SOCK_RAW'), protocol);
    this.timeoutMs = opts.timeoutMs ?? 5000;
    try {
      this.sock.setOption(C('SOL_NETLINK'), C('NETLINK_EXT_ACK'), 1);
      this.sock.setOption(C('SOL_NETLINK'), C('NETLINK_CAP_ACK'), 1);
    } catch {
      // old kernels: plain errors only
    }
    if (opts.rcvbuf) {
      try {
        this.sock.setOption(C('SOL_SOCKET'), C('SO_RCVBUFFORCE'), opts.rcvbuf);
      } catch {
        this.sock.setOption(C('SOL_SOCKET'), C('SO_RCVBUF'), opts.rcvbuf);
      }
    }
    this.sock.bind(sockaddrNl(0, 0));
    this.portId = decodeSockaddr(this.sock.sockname()).pid ?? 0;
    for (const g of opts.groups ?? []) this.sock.setOption(C('SOL_NETLINK'), C('NETLINK_ADD_MEMBERSHIP'), g);
    this.seq = (Math.random() * 0x7fffffff) >>> 0;
    this.sock.startReading(
      (pkt) => this.onDatagram(pkt.data),
      (err) => this.onSocketError(err),
      1 << 17,
    );
    // An idle event socket must not keep a finished CLI alive; a daemon keeps itself alive.
    this.sock.unref();
  }

  private onSocketError(err: NodeJS.ErrnoException): void {
    const e = new Error(`netlink receive: ${err.message}`);
    (e as NodeJS.ErrnoException).code = err.errno === 105 ? 'ENOBUFS' : err.code;
    if (err.errno === 105) for (const end of this.batches.keys()) this.overrun.add(end);
    this.onError?.(e);
  }

  private onDatagram(data: Buffer): void {
    let msgs: NlMsg[];
    try {
      msgs = decodeMessages(data);
    } catch (e) {
      this.onError?.(e as Error);
      return;
    }
    for (const m of msgs) {
      const p = m.seq !== 0 ? this.pending.get(m.seq) : undefined;
      if (!p) {
        if (m.type !== NLMSG_NOOP && m.type !== NLMSG_ERROR) this.onEvent?.(m);
        continue;
      }
      if (m.type === NLMSG_ERROR) {
        const e = decodeError(m);
        this.finish(m.seq);
        if (e.errno === 0) p.resolve(p.replies);
        else p.reject(new NetlinkError(e.errno, p.context, e.extMessage));
        this.settleBatch(m.seq);
      } else if (m.type === NLMSG_DONE) {
        // a dump's DONE may carry an error code (int32) too
        const err = m.payload.length >= 4 ? -m.payload.readInt32LE(0) : 0;
        this.finish(m.seq);
        if (err > 0) p.reject(new NetlinkError(err, p.context));
        else p.resolve(p.replies);
      } else {
        p.replies.push(m);
      }
    }
  }

  private finish(seq: number): void {
    const p = this.pending.get(seq);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(seq);
    if (this.pending.size === 0 && !this.alive) this.sock.unref();
  }

  /**
   * Send one request and collect the replies. Non-dump requests always ask for an ACK, so
   * completion is explicit; dumps end at NLMSG_DONE.
   */
  request(type: number, flags: number, payload: Uint8Array, context = `netlink request type ${type}`): Promise<NlMsg[]> {
    const dump = (flags & NLM_F_DUMP) === NLM_F_DUMP;
    const f = NLM_F_REQUEST | flags | (dump ? 0 : NLM_F_ACK);
    this.seq = (this.seq + 1) >>> 0 || 1;
    const seq = this.seq;
    const msg = encodeMessage({ type, flags: f, seq, pid: 0, payload });
    return new Promise<NlMsg[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new Error(`${context}: no answer from the kernel in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(seq, { replies: [], context, resolve, reject, timer });
      this.sock.ref();
      try {
        this.sock.send(msg, sockaddrNl(0, 0));
      } catch (e) {
        this.finish(seq);
        reject(e as Error);
        return;
      }
      if (!dump) this.drainNow(seq);
    });
  }

  /**
   * The kernel handles a (non-dump) request inside sendmsg, so its answer is usually queued
   * already: read it now rather than one event-loop turn later. A VRRP takeover sends its GARPs
   * only once the VIP add is acknowledged, so this turn is outage time. Bounded; whatever is
   * left (or arrives later) goes through the reader as before.
   */
  private drainNow(seq: number): void {
    for (let i = 0; i < 8 && this.pending.has(seq); i++) {
      let pkt;
      try {
        pkt = this.sock.recv(1 << 17);
      } catch (e) {
        this.onSocketError(e as NodeJS.ErrnoException);
        return;
      }
      if (!pkt) return;
      this.onDatagram(pkt.data);
    }
  }

  /**
   * Many requests in one datagram. Only the last asks for an ACK: the kernel handles them in
   * order and answers a failing request with an error even without NLM_F_ACK, so once the last
   * one is answered, every earlier request without an error succeeded. One promise per request,
   * as with request(); dumps cannot be batched. Saves a send and an ACK per request.
   */
  requestBatch(type: number, items: { flags: number; payload: Uint8Array; context: string }[]): Promise<NlMsg[]>[] {
    if (items.length === 0) return [];
    const seqs = items.map(() => (this.seq = (this.seq + 1) >>> 0 || 1));
    const size = items.reduce((n, it) => n + ((NLMSG_HDRLEN + it.payload.length + 3) & ~3), 0);
    const buf = Buffer.alloc(size);
    let off = 0;
    items.forEach((it, i) => {
      if ((it.flags & NLM_F_DUMP) === NLM_F_DUMP) throw new Error(`${it.context}: dumps cannot be batched`);
      const last = i === items.length - 1;
      const len = NLMSG_HDRLEN + it.payload.length;
      buf.writeUInt32LE(len, off);
      buf.writeUInt16LE(type, off + 4);
      const flags = (NLM_F_REQUEST | it.flags) & ~NLM_F_ACK;
      buf.writeUInt16LE(last ? flags | NLM_F_ACK : flags, off + 6);
      buf.writeUInt32LE(seqs[i]!, off + 8);
      Buffer.from(it.payload.buffer, it.payload.byteOffset, it.payload.byteLength).copy(buf, off + NLMSG_HDRLEN);
      off += (len + 3) & ~3;
    });
    const end = seqs[seqs.length - 1]!;
    const promises = items.map(
      (it, i) =>
        new Promise<NlMsg[]>((resolve, reject) => {
          const timer =
            seqs[i] === end
              ? setTimeout(() => {
                  for (const s of [...(this.batches.get(end) ?? []), end]) {
                    const q = this.pending.get(s);
                    this.pending.delete(s);
                    q?.reject(new Error(`${q.context}: no answer from the kernel in ${this.timeoutMs} ms`));
                  }
                  this.batches.delete(end);
                  this.overrun.delete(end);
                }, this.timeoutMs)
              : undefined;
          this.pending.set(seqs[i]!, { replies: [], context: it.context, resolve, reject, timer });
        }),
    );
    this.batches.set(end, seqs.slice(0, -1));
    this.sock.ref();
    try {
      this.sock.send(buf, sockaddrNl(0, 0));
    } catch (e) {
      this.batches.delete(end);
      for (const s of seqs) {
        const q = this.pending.get(s);
        this.finish(s);
        q?.reject(e as Error);
      }
    }
    return promises;
  }

  /** The last request of a batch is answered: the others that got no error succeeded. */
  private settleBatch(end: number): void {
    const rest = this.batches.get(end);
    if (!rest) return;
    this.batches.delete(end);
    const lost = this.overrun.delete(end);
    for (const s of rest) {
      const q = this.pending.get(s);
      if (!q) continue;
      this.finish(s);
      if (lost) q.reject(new Error(`${q.context}: answer lost (netlink receive queue overran); outcome unknown`));
      else q.resolve(q.replies);
    }
  }

  /** Keep the process alive while subscribed to events (daemon mode). */
  keepAlive(on: boolean): void {
    this.alive = on;
    if (on) this.sock.ref();
    else if (this.pending.size === 0) this.sock.unref();
  }

  close(): void {
    for (const [seq, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(`${p.context}: socket closed`));
      this.pending.delete(seq);
    }
    this.batches.clear();
    this.overrun.clear();
    this.sock.close();
  }
}

/** Generic netlink: resolve a family by name through nlctrl. */
export async function resolveGenlFamily(sock: Pick<NetlinkSocket, 'request'>, name: string): Promise<number> {
  const replies = await sock.request(GENL_ID_CTRL, 0, getFamilyPayload(name), `resolve generic netlink family "${name}"`);
  const first = replies[0];
  if (!first) throw new Error(`resolve generic netlink family "${name}": empty answer`);
  return decodeFamilyId(first.payload);
}
