/**
 * Fault modes of the emulator, set in-process with `setMode()` or for a process with
 * `QDRANT_EMULATOR_FAULT` (e.g. through the chart's `env` values in e2e tests).
 *
 * | mode | what the peer does |
 * |---|---|
 * | healthy | normal behaviour |
 * | lagging | reports a commit `lagEntries` behind and `pending_operations > 0`; /readyz 503; heals after `durationMs` if set |
 * | new-peer-id | (at start) ignores its state, mints a new id and joins as a duplicate peer with the same URI (#6348) |
 * | metadata-loop | (at start) new id, replays the WAL, loops "Replaced metadata" every 20-50 ms, no leader, /readyz 503: the log of the #6229 report, which the real binaries did not show on demand (a plain lost state is not a fault: delete raft_state.json) |
 * | unreachable | REST and p2p sockets closed (connection refused) |
 * | shards-dead | its replicas are set to `shardState` (Dead by default, or Partial) through consensus; /readyz 503 |
 * | not-ready | /readyz answers 503 for ever |
 * | consensus-stopped | consensus thread `stopped_with_err`; the peer stops following the log |
 */
export type FaultMode =
  | 'healthy'
  | 'lagging'
  | 'new-peer-id'
  | 'metadata-loop'
  | 'unreachable'
  | 'shards-dead'
  | 'not-ready'
  | 'consensus-stopped';

export interface FaultSpec {
  mode: FaultMode;
  /** lagging: how many entries behind (default 3). */
  lagEntries?: number;
  /** lagging: heal after this long (default: never). */
  durationMs?: number;
  /** shards-dead: the replica state to report (default Dead). */
  shardState?: 'Dead' | 'Partial';
  /** consensus-stopped: the error text. */
  err?: string;
}

/** Modes that only make sense when the peer starts; `setMode` restarts the peer for them. */
export const STARTUP_MODES: ReadonlySet<FaultMode> = new Set(['new-peer-id', 'metadata-loop']);

const ALIASES: Record<string, FaultMode> = {
  '': 'healthy',
  none: 'healthy',
  healthy: 'healthy',
  lag: 'lagging',
  lagging: 'lagging',
  'new-peer-id': 'new-peer-id',
  'duplicate-peer': 'new-peer-id',
  'metadata-loop': 'metadata-loop',
  loop: 'metadata-loop',
  unreachable: 'unreachable',
  'shards-dead': 'shards-dead',
  'not-ready': 'not-ready',
  'consensus-stopped': 'consensus-stopped',
  stopped: 'consensus-stopped',
  'stopped-with-err': 'consensus-stopped',
};

/**
 * Parses `QDRANT_EMULATOR_FAULT`: `mode[:arg]`, where arg is the lag duration in ms for `lag`
 * (`lag:5000`), the replica state for `shards-dead` (`shards-dead:Partial`), the error for
 * `consensus-stopped`.
 */
export function parseFault(text: string | undefined): FaultSpec {
  const raw = (text ?? '').trim();
  const [name = '', ...rest] = raw.split(':');
  const arg = rest.join(':');
  const mode = ALIASES[name.toLowerCase()];
  if (!mode) {
    throw new Error(`unknown QDRANT_EMULATOR_FAULT ${JSON.stringify(raw)}; known: ${[...new Set(Object.values(ALIASES))].join(', ')}`);
  }
  const spec: FaultSpec = { mode };
  if (arg) {
    if (mode === 'lagging') {
      const ms = Number(arg);
      if (!Number.isFinite(ms) || ms < 0) throw new Error(`lag duration must be milliseconds, got ${arg}`);
      spec.durationMs = ms;
    } else if (mode === 'shards-dead') {
      if (arg !== 'Dead' && arg !== 'Partial') throw new Error(`shards-dead takes Dead or Partial, got ${arg}`);
      spec.shardState = arg;
    } else if (mode === 'consensus-stopped') {
      spec.err = arg;
    }
  }
  return spec;
}

export function toFaultSpec(mode: FaultMode | FaultSpec | undefined): FaultSpec {
  if (mode === undefined) return { mode: 'healthy' };
  return typeof mode === 'string' ? { mode } : mode;
}
