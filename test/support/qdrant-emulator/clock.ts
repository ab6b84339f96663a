/**
 * Time and chance reach an emulated peer only through an EmulatorClock, so the consensus core can
 * run on real timers (the process wrapper main.ts, which the e2e tier starts) or on a simulated
 * clock that a test advances step by step (see sim.ts). Same idea as hook/runtime/clock.ts.
 */

export interface EmulatorClock {
  /** Milliseconds since the epoch (virtual under a simulation). */
  now(): number;
  /** Uniform in [0, 1): election jitter and the #6229 loop period. Seeded under a simulation. */
  random(): number;
  /** Runs `fn` once after `ms`; returns a cancel function. */
  after(ms: number, fn: () => void): () => void;
  sleep(ms: number): Promise<void>;
}

/** Real timers and Math.random: the process wrapper and in-process peers of other tiers. */
export const realClock: EmulatorClock = {
  now: () => Date.now(),
  random: () => Math.random(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

interface PendingTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/** mulberry32: a small seeded PRNG, enough for jitter that must repeat run after run. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Virtual time. Nothing happens until a test calls step()/run()/until(): each step advances time
 * to the earliest pending timer (ties in the order they were set), runs it, and lets the promise
 * chains it started settle before the next one. With the in-memory p2p network (sim.ts) a peer's
 * consensus work is timers plus promises only, so the same seed gives the same sequence of events.
 */
export class SimClock implements EmulatorClock {
  private t: number;
  private seq = 0;
  private queue: PendingTimer[] = [];
  private readonly rng: () => number;
  /** Timers run so far (a measure of work, printed by failing waits). */
  steps = 0;

  constructor(opts: { start?: number; seed?: number } = {}) {
    this.t = opts.start ?? Date.UTC(2026, 0, 1);
    this.rng = seededRandom(opts.seed ?? 1);
  }

  now(): number {
    return this.t;
  }

  random(): number {
    return this.rng();
  }

  after(ms: number, fn: () => void): () => void {
    const timer: PendingTimer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn };
    // Sorted insert: by due time, then by the order timers were set.
    let i = this.queue.length;
    while (i > 0 && (this.queue[i - 1]!.at > timer.at || (this.queue[i - 1]!.at === timer.at && this.queue[i - 1]!.seq > timer.seq))) i--;
    this.queue.splice(i, 0, timer);
    return () => {
      const k = this.queue.indexOf(timer);
      if (k >= 0) this.queue.splice(k, 1);
    };
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Due time of the next timer, or undefined when none is pending. */
  nextAt(): number | undefined {
    return this.queue[0]?.at;
  }

  /**
   * Lets promise chains settle: a macrotask turn runs after the whole microtask queue has drained.
   * Two turns, so a chain that crosses one setImmediate (socket-free fetch polyfills do) also ends.
   */
  async settle(): Promise<void> {
    await new Promise<void>((r) => setImmediate(r));
    await new Promise<void>((r) => setImmediate(r));
  }

  /** Runs the next timer, if any is due no later than `limit`; false when none was. */
  async step(limit = Infinity): Promise<boolean> {
    await this.settle();
    const next = this.queue[0];
    if (!next || next.at > limit) return false;
    this.queue.shift();
    this.t = Math.max(this.t, next.at);
    this.steps++;
    next.fn();
    await this.settle();
    return true;
  }

  /** Advances virtual time by `ms`, running every timer due in that span in order. */
  async run(ms: number): Promise<void> {
    const end = this.t + ms;
    while (await this.step(end));
    this.t = Math.max(this.t, end);
  }

  /**
   * Steps until `why()` returns undefined; rejects with the last reason after `maxMs` of virtual
   * time. The bound is virtual, so a loaded machine cannot make it expire early.
   */
  async until(what: string, why: () => string | undefined, opts: { maxMs?: number } = {}): Promise<void> {
    const end = this.t + (opts.maxMs ?? 30_000);
    let reason = why();
    while (reason !== undefined) {
      if (!(await this.step(end))) {
        if (this.t >= end || this.queue.length === 0) {
          throw new Error(`simulated ${opts.maxMs ?? 30_000} ms without ${what}: ${reason} (${this.steps} steps)`);
        }
        this.t = end;
      }
      reason = why();
    }
  }

  /**
   * Keeps the simulation running while `p` (e.g. a real HTTP request to a peer's REST port, whose
   * handler waits on consensus) is pending; real I/O gets a turn between steps.
   */
  async drive<T>(p: Promise<T>, opts: { maxMs?: number } = {}): Promise<T> {
    let done = false;
    const settled = p.finally(() => {
      done = true;
    });
    settled.catch(() => undefined);
    const end = this.t + (opts.maxMs ?? 30_000);
    const realDeadline = Date.now() + 60_000;
    while (!done) {
      // A real-time turn first: the request may still be on its way over loopback.
      await new Promise<void>((r) => setTimeout(r, 1));
      if (done) break;
      if (await this.step(end)) continue;
      if (this.queue.length > 0) throw new Error(`simulated ${opts.maxMs ?? 30_000} ms and the request is still pending`);
      if (Date.now() > realDeadline) throw new Error('no timer left and the request is still pending after 60 s');
    }
    return settled;
  }
}
