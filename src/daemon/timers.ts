// Deadline timers for many VRRP instances on one Node timer.
//
// 50 instances at 10 ms adverts means 5,000 deadlines a second; arming a Node timer for each
// would cost more than the adverts themselves. Deadlines live in a binary heap (stale entries
// are skipped lazily) and a single setTimeout waits for the earliest. Everything due within
// `slackMs` is fired in one wake-up, which also batches instances whose adverts line up.
//
// Node timers have 1 ms granularity and fire up to ~1 ms late. Keys marked `precise` (the
// master-down timer: every millisecond it fires late is outage) wake up to 2 ms early and
// poll the event loop (setImmediate) for the rest, then fire at, never before, the deadline.
// That costs about a millisecond of CPU per takeover; such a deadline is only reached when
// the master has really gone quiet (adverts push it back long before).

export type TimerCallback = (key: string, now: number) => void;

/** how long before a precise deadline the event loop is polled (a Node timer can wake ±1 ms off) */
const POLL_MS = 2;

interface Entry {
  at: number;
  key: string;
  gen: number;
}

export class TimerQueue {
  private heap: Entry[] = [];
  private readonly gens = new Map<string, number>();
  private handle: NodeJS.Timeout | null = null;
  private armedAt = Infinity;
  private polling: NodeJS.Immediate | null = null;
  private firing = false;
  private stopped = false;

  constructor(
    private readonly onFire: TimerCallback,
    private readonly clock: () => number = () => performance.now(),
    /** fire deadlines up to this much early (the VRRP core tolerates 1 ms) */
    private readonly slackMs = 0.5,
    /** keys fired at their exact deadline (see above) */
    private readonly precise?: (key: string) => boolean,
  ) {}

  set(key: string, at: number): void {
    const gen = (this.gens.get(key) ?? 0) + 1;
    this.gens.set(key, gen);
    this.push({ at, key, gen });
    if (!this.firing) this.arm();
  }

  clear(key: string): void {
    const g = this.gens.get(key);
    if (g !== undefined) this.gens.set(key, g + 1);
  }

  stop(): void {
    this.stopped = true;
    if (this.handle) clearTimeout(this.handle);
    if (this.polling) clearImmediate(this.polling);
    this.handle = null;
    this.polling = null;
    this.heap = [];
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= e.at) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  private pop(): Entry | undefined {
    const h = this.heap;
    if (!h.length) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    const n = h.length;
    if (n) {
      // sift `last` down from the root
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        let mAt = last.at;
        if (l < n && h[l]!.at < mAt) {
          m = l;
          mAt = h[l]!.at;
        }
        if (r < n && h[r]!.at < mAt) m = r;
        if (m === i) break;
        h[i] = h[m]!;
        i = m;
      }
      h[i] = last;
    }
    return top;
  }

  private live(e: Entry): boolean {
    return this.gens.get(e.key) === e.gen;
  }

  private arm(): void {
    if (this.stopped) return;
    while (this.heap.length && !this.live(this.heap[0]!)) this.pop();
    const next = this.heap[0];
    if (!next) {
      if (this.handle) clearTimeout(this.handle);
      this.handle = null;
      this.armedAt = Infinity;
      return;
    }
    if (this.polling) return; // fire() runs on the next loop turn and re-arms
    const exact = this.precise?.(next.key) ?? false;
    const now = this.clock();
    if (exact && next.at - now <= POLL_MS) {
      if (this.handle) clearTimeout(this.handle);
      this.handle = null;
      this.armedAt = Infinity;
      this.polling = setImmediate(() => {
        this.polling = null;
        this.fire();
      });
      return;
    }
    const wake = exact ? next.at - POLL_MS + 0.5 : next.at;
    if (this.handle && this.armedAt <= wake) return;
    if (this.handle) clearTimeout(this.handle);
    this.armedAt = wake;
    const delay = Math.max(0, exact ? Math.floor(wake - now) : Math.round(wake - now));
    this.handle = setTimeout(() => this.fire(), delay);
  }

  private fire(): void {
    this.handle = null;
    this.armedAt = Infinity;
    this.firing = true;
    try {
      for (;;) {
        const now = this.clock();
        const top = this.heap[0];
        if (!top || top.at > now + (this.precise?.(top.key) ? 0 : this.slackMs)) break;
        this.pop();
        if (!this.live(top)) continue;
        // a fired timer is gone until set again
        this.gens.set(top.key, top.gen + 1);
        this.onFire(top.key, now);
        if (this.stopped) return;
      }
    } finally {
      this.firing = false;
    }
    this.arm();
  }
}
