/**
 * A simulation: one virtual clock and one in-memory p2p network shared by the peers a test starts
 * with `{ sim }`. Nothing moves until the test (or the cluster helpers it calls) steps the clock,
 * so "after 1.5 s the loop has logged N lines" is a count of timers run, not a race against the
 * machine's load. REST stays on real sockets (the code under test speaks HTTP to it); a request
 * whose handler waits on consensus is driven with `sim.drive(fetch(...))`.
 *
 *   const sim = createSimulation({ seed: 7 });
 *   const cluster = await startEmulatorCluster({ peers: 3, version: '1.13.4', sim });
 *   await sim.run(1500);                         // 1.5 virtual seconds, every timer in order
 *   await sim.until('a leader', () => ...);      // bounded in virtual time
 *
 * The process wrapper (main.ts), which the e2e tier starts, keeps real timers and HTTP between peers.
 */
import { SimClock } from './clock.js';
import { SimNetwork } from './p2p.js';

export class Simulation {
  readonly clock: SimClock;
  readonly network: SimNetwork;

  constructor(opts: { seed?: number; start?: number } = {}) {
    this.clock = new SimClock(opts);
    this.network = new SimNetwork(this.clock);
  }

  /** Virtual milliseconds since the epoch. */
  now(): number {
    return this.clock.now();
  }

  /** Advances virtual time by `ms`, running every timer due in that span in order. */
  run(ms: number): Promise<void> {
    return this.clock.run(ms);
  }

  /** Steps until `why()` returns undefined; throws after `maxMs` virtual ms (default 30 s). */
  until(what: string, why: () => string | undefined, opts: { maxMs?: number } = {}): Promise<void> {
    return this.clock.until(what, why, opts);
  }

  /** Keeps stepping while `p` is pending (a REST call whose handler waits on consensus). */
  drive<T>(p: Promise<T>, opts: { maxMs?: number } = {}): Promise<T> {
    return this.clock.drive(p, opts);
  }
}

export function createSimulation(opts: { seed?: number; start?: number } = {}): Simulation {
  return new Simulation(opts);
}
