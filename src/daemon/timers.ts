// Deadline timers for many VRRP instances on one Node timer.
//
// 50 instances at 10 ms adverts means 5,000 deadlines a second; arming a Node timer for each
// would cost more than the adverts themselves. Deadlines live in a binary heap (stale entries
// are skipped lazily) and a single setTimeout waits for the earliest. Everything due within
// `slackMs` is fired in one wake-up, which also batches instances whose adverts line up.

export type TimerCallback = (key: string, now: number) => void;

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
  private firing = false;
  private stopped = false;

  constructor(
    private readonly onFire: TimerCallback,
    private readonly clock: () => number = () => performance.now(),
    /** fire deadlines up to this much early (the VRRP core tolerates 1 ms) */
    private readonly slackMs = 0.5,
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

  has(key: string): boolean {
    return this.heap.some((e) => e.key === key && e.gen === this.gens.get(key));
  }

  stop(): void {
    this.stopped = true;
    if (this.handle) clearTimeout(this.handle);
    this.handle = null;
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
    if (this.handle && this.armedAt <= next.at) return;
    if (this.handle) clearTimeout(this.handle);
    this.armedAt = next.at;
    const delay = Math.max(0, Math.round(next.at - this.clock()));
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
        if (!top || top.at > now + this.slackMs) break;
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
