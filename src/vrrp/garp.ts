// Gratuitous ARP / unsolicited NA schedule of a MASTER, as keepalived 2.2.7 does it (lab README
// "GARP behaviour"):
// - on becoming master: `repeat` × (every VIP, then every excluded VIP), back to back when the
//   interval is 0 (default), else spaced per interface by garp_interval (ARP) / gna_interval (NA);
// - a second burst `delayMs` later, only while still master (we cancel it on leaving MASTER,
//   which also avoids keepalived's stale "+5 s" burst after a quick MASTER→BACKUP→MASTER);
// - optionally a refresh burst every `refreshMs` (`refreshRepeat` each);
// - when a MASTER hears a lower-priority advert: `lowerPrioRepeat` now and again after
//   `lowerPrioDelayMs` (keepalived defaults both to the master repeat/delay).
// Pure: methods take `now`, `due(now)` returns what to send, `nextDeadline()` when to call again.
import type { Family } from '../config/model.js';

export interface GarpTarget {
  address: string;
  family: Family;
  /** interface the address lives on (VIP `dev`, else the instance's interface) */
  dev: string;
}

/** 'garp': ARP request, sender IP = target IP = VIP, broadcast. 'na': unsolicited NA to ff02::1, override flag. */
export type GarpKind = 'garp' | 'na';

export interface GarpSend {
  at: number;
  kind: GarpKind;
  address: string;
  dev: string;
}

export interface GarpConfig {
  repeat: number;
  delayMs: number;
  refreshMs: number;
  refreshRepeat: number;
  lowerPrioRepeat: number;
  lowerPrioDelayMs: number;
  garpIntervalMs: number;
  gnaIntervalMs: number;
}

export class GarpSchedule {
  private queue: GarpSend[] = [];
  private delayedAt: number | undefined;
  private refreshAt: number | undefined;
  private lowerPrioAt: number | undefined;
  /** per "dev|kind": earliest time the next message may leave (garp_interval spacing) */
  private nextFree = new Map<string, number>();

  constructor(
    private readonly targets: readonly GarpTarget[],
    private readonly cfg: GarpConfig,
  ) {}

  becomeMaster(now: number): void {
    this.reset();
    this.enqueueBurst(now, this.cfg.repeat);
    if (this.cfg.delayMs > 0) this.delayedAt = now + this.cfg.delayMs;
    if (this.cfg.refreshMs > 0) this.refreshAt = now + this.cfg.refreshMs;
  }

  lowerPriorityAdvert(now: number): void {
    if (this.cfg.lowerPrioRepeat <= 0) return;
    this.enqueueBurst(now, this.cfg.lowerPrioRepeat);
    // keepalived queues one timer per lower-priority advert; one pending burst is enough.
    if (this.cfg.lowerPrioDelayMs > 0) this.lowerPrioAt = now + this.cfg.lowerPrioDelayMs;
  }

  /** Leaving MASTER: nothing pending may be sent any more. */
  reset(): void {
    this.queue = [];
    this.delayedAt = this.refreshAt = this.lowerPrioAt = undefined;
  }

  /** Everything due at `now` (burst deadlines expanded), in send order. */
  due(now: number): GarpSend[] {
    if (this.delayedAt !== undefined && this.delayedAt <= now) {
      this.enqueueBurst(this.delayedAt, this.cfg.repeat);
      this.delayedAt = undefined;
    }
    if (this.lowerPrioAt !== undefined && this.lowerPrioAt <= now) {
      this.enqueueBurst(this.lowerPrioAt, this.cfg.lowerPrioRepeat);
      this.lowerPrioAt = undefined;
    }
    if (this.refreshAt !== undefined && this.refreshAt <= now) {
      this.enqueueBurst(this.refreshAt, this.cfg.refreshRepeat);
      this.refreshAt += this.cfg.refreshMs;
      if (this.refreshAt <= now) this.refreshAt = now + this.cfg.refreshMs; // we were asleep; don't catch up
    }
    let n = 0;
    while (n < this.queue.length && this.queue[n]!.at <= now) n++;
    return this.queue.splice(0, n);
  }

  nextDeadline(): number | undefined {
    const c = [this.queue[0]?.at, this.delayedAt, this.refreshAt, this.lowerPrioAt].filter(
      (x): x is number => x !== undefined,
    );
    return c.length ? Math.min(...c) : undefined;
  }

  private enqueueBurst(start: number, repeat: number): void {
    for (let j = 0; j < repeat; j++) {
      for (const t of this.targets) {
        const kind: GarpKind = t.family === 'inet' ? 'garp' : 'na';
        const key = `${t.dev}|${kind}`;
        const at = Math.max(start, this.nextFree.get(key) ?? start);
        this.nextFree.set(key, at + (kind === 'garp' ? this.cfg.garpIntervalMs : this.cfg.gnaIntervalMs));
        this.queue.push({ at, kind, address: t.address, dev: t.dev });
      }
    }
    this.queue.sort((a, b) => a.at - b.at); // stable: equal times keep burst order
  }
}
