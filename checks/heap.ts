// A binary min-heap of (at, seq, value): the scheduler's timer queue. Stale entries are skipped
// by the caller (lazy deletion), which keeps rescheduling O(log n).
export interface HeapEntry<T> {
  at: number;
  seq: number;
  value: T;
}

export class MinHeap<T> {
  private a: HeapEntry<T>[] = [];
  private seq = 0;

  get size(): number {
    return this.a.length;
  }

  push(at: number, value: T): void {
    const e = { at, seq: this.seq++, value };
    const a = this.a;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }

  peek(): HeapEntry<T> | undefined {
    return this.a[0];
  }

  pop(): HeapEntry<T> | undefined {
    const a = this.a;
    if (a.length === 0) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l]!, a[m]!)) m = l;
        if (r < a.length && less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }

  clear(): void {
    this.a = [];
  }
}

function less<T>(x: HeapEntry<T>, y: HeapEntry<T>): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq);
}
