// Probe cancellation. Not an AbortSignal: adding and removing an EventTarget listener costs
// ~10 us, which at 10,000 probes/s is a tenth of a core. A probe registers at most a callback
// or two, so a tiny array does. `signal` bridges to APIs that want a real AbortSignal.
export interface Cancellation {
  readonly aborted: boolean;
  /** `fn` runs once when the probe is cancelled (soon, if it already is); returns an unregister function */
  onAbort(fn: () => void): () => void;
  /** a standard AbortSignal following this cancellation (made on first use) */
  readonly signal: AbortSignal;
}

const noop = (): void => {};

export class Cancel implements Cancellation {
  private done = false;
  private fns: (() => void)[] | null = null;
  private ac: AbortController | null = null;

  get aborted(): boolean {
    return this.done;
  }

  onAbort(fn: () => void): () => void {
    if (this.done) {
      queueMicrotask(fn);
      return noop;
    }
    (this.fns ??= []).push(fn);
    return () => {
      const a = this.fns;
      if (!a) return;
      const i = a.indexOf(fn);
      if (i >= 0) a.splice(i, 1);
    };
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    const fns = this.fns;
    this.fns = null;
    if (fns) for (const f of fns) f();
    this.ac?.abort();
  }

  get signal(): AbortSignal {
    if (!this.ac) {
      this.ac = new AbortController();
      if (this.done) this.ac.abort();
    }
    return this.ac.signal;
  }

  /** A cancellation that follows an AbortSignal (for callers that have one). */
  static fromSignal(signal: AbortSignal): Cancel {
    const c = new Cancel();
    if (signal.aborted) c.abort();
    else signal.addEventListener('abort', () => c.abort(), { once: true });
    return c;
  }
}

export interface OutcomeHooks {
  /** the probe's deadline passed */
  timeout: () => void;
  /** the probe was cancelled (shutdown, reload) */
  abort: () => void;
  /** release what the probe holds (a socket); runs once, after the first outcome */
  cleanup?: () => void;
}

/**
 * A probe's single outcome: the first call of the returned `finish` wins, removes the deadline
 * and the abort listener, runs `cleanup`, then resolves; later calls are ignored. Every event of
 * a probe (reply, error, timeout, abort) ends in `finish`.
 */
export function settleOnce<R>(resolve: (r: R) => void, cancel: Cancellation, timeoutMs: number, hooks: OutcomeHooks): (r: R) => void {
  let done = false;
  const timer = setTimeout(hooks.timeout, timeoutMs);
  const offAbort = cancel.onAbort(hooks.abort);
  return (r: R): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    offAbort();
    try {
      hooks.cleanup?.();
    } catch {
      // already released
    }
    resolve(r);
  };
}
