/**
 * The qdrant/qdrant#6229 detector: reads Qdrant log lines and recognises a peer that lost its raft state
 * (docs/incident-6229.md). Pure: lines in, findings out; time comes only from the lines' own timestamps.
 *
 * What the lines mean (Qdrant 1.13 `persistent.rs`, `main.rs`):
 * - `Initializing new raft state at <path>`: no state file, a new peer id is minted. On a volume the record
 *   says held a state, this line is the incident: fail at once.
 * - `Loading raft state from <path>`: the state was found. Fine.
 * - `Replaced metadata of peer <id> from PeerMetadata { version: Version { .. } } to PeerMetadata { .. }`:
 *   from != to is normal, once per upgraded peer. from == to cannot come from a live proposal (a 1.13.5
 *   binary never proposes 1.13.4), so it is a replayed log entry; the same from -> to transition seen again
 *   for the same peer is replayed too. LOOP_MIN_REPEATS replayed lines within LOOP_WINDOW_SECONDS are
 *   the loop. Lines without timestamps count as if inside the window (no rate can be known).
 * - `Replaced address of peer <id> from <uri> to <uri>` (WARN): a note, not a failure.
 *
 * Three formats are read (docs/qdrant-facts.md#log-lines): tracing text `2025-03-21T10:15:02.123456Z  INFO <target>: <message>`, the same
 * with ANSI colour codes, and JSON lines `{"timestamp", "level", "fields": {"message"}, "target"}`; a line in
 * none of them (a bare message, a `kubectl logs --timestamps` prefix) is still searched as a whole.
 * Peer ids stay decimal strings: they are u64 (docs/qdrant-facts.md#peer-ids-are-u64) and are only ever matched as text.
 */
import { parse as parseLossless } from 'lossless-json';
import { check, type Check } from '../report.js';
import { CHECK_IDS } from './check-ids.js';
import { restoreArchive } from './remedies.js';

/** Replayed "Replaced metadata" lines within LOOP_WINDOW_SECONDS that make a loop. */
export const LOOP_MIN_REPEATS = 20;
/** The window for LOOP_MIN_REPEATS. In #6229 hundreds of lines come within seconds, each one fsynced. */
export const LOOP_WINDOW_SECONDS = 300;
export const DEFAULT_STORAGE_PATH = '/qdrant/storage';

export interface LogContext {
  pod: string;
  /** The record says this volume held a raft state before the upgrade (classification `initialized`). */
  recordedInitialized: boolean;
  /** The peer id recorded for this pod, for the diagnosis. */
  recordedPeerId?: string;
  /** The pre-upgrade archive of this volume: a file name (joined to archiveDir) or a full path. */
  archive?: string;
  /** Where archives are (default <storagePath>/.upgrade-guard). */
  archiveDir?: string;
  /** Default: the pod name without its ordinal. */
  statefulset?: string;
  /** Qdrant's storage path in the pod (default /qdrant/storage). */
  storagePath?: string;
  /** The Helm release (from the record): the remedy then names the in-cluster restore-volume command. */
  release?: string;
}

export type LogFindingKind =
  | 'identity-lost'
  | 'metadata-loop'
  | 'address-replaced'
  | 'metadata-replayed'
  | 'metadata-changed'
  | 'new-state'
  | 'state-loaded';

export interface LogFinding {
  kind: LogFindingKind;
  /** fail: the incident; note: worth reading; info: normal. */
  severity: 'fail' | 'note' | 'info';
  pod: string;
  /** Lines of this kind seen (for a loop: the replayed lines within the densest window). */
  count: number;
  /** Timestamps of the first and last line counted, when the lines carry them. */
  firstAt?: string;
  lastAt?: string;
  /** Peer ids named by these lines, in order of first appearance. */
  peerIds: string[];
  /** What it means, with numbers. */
  diagnosis: string;
  /** What to do; empty when nothing is to be done. */
  remedy: string;
  /** One such line, colour codes stripped: the evidence. */
  example: string;
}

export interface ParsedLogLine {
  /** As written in the line. */
  timestamp?: string;
  /** Milliseconds since the epoch, from `timestamp`. */
  timeMs?: number;
  level?: string;
  target?: string;
  message: string;
}

export interface MetadataReplacement {
  peerId: string;
  from: string;
  to: string;
}

// ---------------------------------------------------------------------------------------------
// Parsing

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
const TS = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?`;
const TEXT_LINE = new RegExp(String.raw`^\s*(?:(${TS})\s+)?(?:(${TS})\s+)?(TRACE|DEBUG|INFO|WARN|ERROR)\s+(?:(\S+?):\s)?(.*)$`);
const JSON_PREFIX = new RegExp(String.raw`^\s*(?:(${TS})\s+)?(\{.*\})\s*$`);

export function stripAnsi(line: string): string {
  return line.replace(ANSI, '');
}

/** undefined for a blank line. */
export function parseLogLine(raw: string): ParsedLogLine | undefined {
  const line = stripAnsi(raw).replace(/\r$/, '');
  if (line.trim() === '') return undefined;
  const json = JSON_PREFIX.exec(line);
  if (json) {
    const parsed = parseJsonLine(json[2]!, json[1]);
    if (parsed) return parsed;
  }
  const m = TEXT_LINE.exec(line);
  if (m) {
    // With a `kubectl logs --timestamps` prefix, Qdrant's own timestamp is the second one.
    const timestamp = m[2] ?? m[1];
    return withTime({ ...(timestamp ? { timestamp } : {}), level: m[3]!, ...(m[4] ? { target: m[4] } : {}), message: m[5]! });
  }
  return { message: line.trim() };
}

function parseJsonLine(text: string, prefixTimestamp: string | undefined): ParsedLogLine | undefined {
  let tree: unknown;
  try {
    // Lossless: a JSON line may carry u64 fields; they are never read as JS numbers.
    tree = parseLossless(text);
  } catch {
    return undefined;
  }
  if (typeof tree !== 'object' || tree === null || Array.isArray(tree)) return undefined;
  const o = tree as Record<string, unknown>;
  const fields = typeof o.fields === 'object' && o.fields !== null ? (o.fields as Record<string, unknown>) : {};
  const message = typeof fields.message === 'string' ? fields.message : typeof o.message === 'string' ? o.message : undefined;
  if (message === undefined) return undefined;
  const timestamp = typeof o.timestamp === 'string' ? o.timestamp : prefixTimestamp;
  return withTime({
    ...(timestamp ? { timestamp } : {}),
    ...(typeof o.level === 'string' ? { level: o.level } : {}),
    ...(typeof o.target === 'string' ? { target: o.target } : {}),
    message,
  });
}

function withTime(p: ParsedLogLine): ParsedLogLine {
  if (p.timestamp === undefined) return p;
  const ms = Date.parse(p.timestamp);
  return Number.isNaN(ms) ? p : { ...p, timeMs: ms };
}

const METADATA_RE = /Replaced metadata of peer (\d+) from PeerMetadata \{ version: Version \{ ([^}]*) \} \} to PeerMetadata \{ version: Version \{ ([^}]*) \} \}/;
const INITIALIZING_RE = /Initializing new raft state at (\S+)/;
const LOADING_RE = /Loading raft state from (\S+)/;
const LOADING_COLLECTION_RE = /Loading collection: \S+/;
const ADDRESS_RE = /Replaced address of peer (\d+) from (\S+) to (\S+)/;

/** `major: 1, minor: 13, patch: 4` (and `pre: Prerelease("dev")`) -> "1.13.4" ("1.13.4-dev"). */
function versionOf(fields: string): string | undefined {
  const major = /major: (\d+)/.exec(fields)?.[1];
  const minor = /minor: (\d+)/.exec(fields)?.[1];
  const patch = /patch: (\d+)/.exec(fields)?.[1];
  if (major === undefined || minor === undefined || patch === undefined) return undefined;
  const pre = /pre: Prerelease\("([^"]*)"\)/.exec(fields)?.[1];
  return `${major}.${minor}.${patch}${pre ? `-${pre}` : ''}`;
}

export function parseMetadataReplacement(message: string): MetadataReplacement | undefined {
  const m = METADATA_RE.exec(message);
  if (!m) return undefined;
  const from = versionOf(m[2]!);
  const to = versionOf(m[3]!);
  return from && to ? { peerId: m[1]!, from, to } : undefined;
}

// ---------------------------------------------------------------------------------------------
// The accumulator

interface Seen {
  count: number;
  first?: string;
  last?: string;
  example: string;
}

function note(seen: Seen | undefined, line: ParsedLogLine, example: string): Seen {
  const s = seen ?? { count: 0, example };
  s.count++;
  if (line.timestamp) {
    s.first ??= line.timestamp;
    s.last = line.timestamp;
  }
  return s;
}

/**
 * Feed it lines as they come (`push`), ask `findings()` at any time. Memory stays bounded by the replayed
 * lines inside one window. No clock: a window is measured between the lines' own timestamps.
 */
export class LogLoopDetector {
  private readonly ctx: LogContext;
  private lines = 0;
  private initializing?: Seen & { path: string };
  private loading?: Seen & { paths: string[] };
  private addresses?: Seen & { changes: string[]; peers: string[] };
  /** peer|from|to -> count, in order of first appearance. */
  private readonly transitions = new Map<string, { m: MetadataReplacement; count: number }>();
  private changes?: Seen & { peers: string[] };
  private replays?: Seen & { peers: string[] };
  private untimedReplays = 0;
  /** Replayed lines whose version is replaced by itself: no live proposal does that. */
  private selfReplays = 0;
  private inFreshStart = false;
  /** "Loading collection: ..." followed "Initializing new raft state" in the same start. */
  private usedVolumeAfterNewState = false;
  private readonly window: { ms: number; ts: string }[] = [];
  private best = { count: 0, first: '', last: '', firstMs: 0, lastMs: 0 };
  private replayExample = new Map<string, number>();

  constructor(ctx: LogContext) {
    this.ctx = ctx;
  }

  push(raw: string): void {
    const line = parseLogLine(raw);
    if (!line) return;
    this.lines++;
    const msg = line.message;
    const example = stripAnsi(raw).trim();

    const meta = parseMetadataReplacement(msg);
    if (meta) {
      const key = `${meta.peerId}|${meta.from}|${meta.to}`;
      const prev = this.transitions.get(key);
      this.transitions.set(key, { m: meta, count: (prev?.count ?? 0) + 1 });
      if (meta.from === meta.to || prev) {
        if (meta.from === meta.to) this.selfReplays++;
        this.replays = note(this.replays, line, example) as Seen & { peers: string[] };
        this.replays.peers ??= [];
        if (!this.replays.peers.includes(meta.peerId)) this.replays.peers.push(meta.peerId);
        this.replayExample.set(key, (this.replayExample.get(key) ?? 0) + 1);
        this.countReplay(line);
      } else {
        this.changes = note(this.changes, line, example) as Seen & { peers: string[] };
        this.changes.peers ??= [];
        if (!this.changes.peers.includes(meta.peerId)) this.changes.peers.push(meta.peerId);
      }
      return;
    }
    const init = INITIALIZING_RE.exec(msg);
    if (init) {
      this.initializing = { ...note(this.initializing, line, example), path: this.initializing?.path ?? init[1]! };
      this.inFreshStart = true;
      return;
    }
    // A start that minted a new state and then found collections on its volume: the volume had been used.
    if (this.inFreshStart && LOADING_COLLECTION_RE.test(msg)) {
      this.usedVolumeAfterNewState = true;
      return;
    }
    const load = LOADING_RE.exec(msg);
    if (load) {
      this.inFreshStart = false;
      const paths = this.loading?.paths ?? [];
      if (!paths.includes(load[1]!)) paths.push(load[1]!);
      this.loading = { ...note(this.loading, line, example), paths };
      return;
    }
    const addr = ADDRESS_RE.exec(msg);
    if (addr) {
      const changes = this.addresses?.changes ?? [];
      const peers = this.addresses?.peers ?? [];
      const change = `peer ${addr[1]} ${addr[2]} -> ${addr[3]}`;
      if (!changes.includes(change)) changes.push(change);
      if (!peers.includes(addr[1]!)) peers.push(addr[1]!);
      this.addresses = { ...note(this.addresses, line, example), changes, peers };
    }
  }

  pushAll(lines: Iterable<string>): this {
    for (const l of lines) this.push(l);
    return this;
  }

  private countReplay(line: ParsedLogLine): void {
    if (line.timeMs === undefined) {
      this.untimedReplays++;
      return;
    }
    this.window.push({ ms: line.timeMs, ts: line.timestamp! });
    const limit = LOOP_WINDOW_SECONDS * 1000;
    while (this.window.length > 0 && line.timeMs - this.window[0]!.ms > limit) this.window.shift();
    if (this.window.length > this.best.count) {
      const first = this.window[0]!;
      this.best = { count: this.window.length, first: first.ts, last: line.timestamp!, firstMs: first.ms, lastMs: line.timeMs };
    }
  }

  /** Lines read (blank ones excluded). */
  get linesRead(): number {
    return this.lines;
  }

  /** True as soon as a failing finding exists: the caller stops waiting for the rollout. */
  failed(): boolean {
    return this.findings().some((f) => f.severity === 'fail');
  }

  findings(): LogFinding[] {
    const ctx = this.ctx;
    const pod = ctx.pod;
    const out: LogFinding[] = [];
    const times = (s: Seen) => ({ ...(s.first ? { firstAt: s.first } : {}), ...(s.last ? { lastAt: s.last } : {}) });

    if (this.initializing && ctx.recordedInitialized) {
      const s = this.initializing;
      const was = ctx.recordedPeerId ? ` as peer ${ctx.recordedPeerId}` : '';
      out.push({
        kind: 'identity-lost',
        severity: 'fail',
        pod,
        count: s.count,
        ...times(s),
        peerIds: ctx.recordedPeerId ? [ctx.recordedPeerId] : [],
        diagnosis:
          `${pod} logged "Initializing new raft state at ${s.path}" on a volume that held a raft state before the upgrade${was}: ` +
          'raft_state.json was lost and a new peer id is being minted (qdrant/qdrant#6229)',
        remedy: restoreRemedy(ctx),
        example: s.example,
      });
    }

    const loopCount = this.best.count + this.untimedReplays;
    if (this.replays) {
      const top = this.topReplay();
      const quoted = top ? `'Replaced metadata of peer ${top.peerId} from ${top.from} to ${top.to}'` : "'Replaced metadata of peer'";
      const peers = this.replays.peers;
      const forPeers = peers.length > 1 ? ` for ${peers.length} peers` : '';
      const span = this.best.count > 0 && this.untimedReplays === 0 ? ` in ${formatSeconds((this.best.lastMs - this.best.firstMs) / 1000)}` : '';
      const total = this.replays.count > loopCount ? `; ${this.replays.count} in all` : '';
      // The real 1.13 server replays one self-replacing line per minute the peer spent stuck before it lost its state
      // again (test/fixtures/qdrant-logs): a handful of lines, far below the threshold, right after "Initializing new
      // raft state" and "Loading collection: ..." (a new peer on an empty volume has no collection to load). That
      // pairing is the replay under a new identity whatever the count.
      const replayAfterNewState = this.selfReplays > 0 && this.usedVolumeAfterNewState;
      if (loopCount >= LOOP_MIN_REPEATS || replayAfterNewState) {
        out.push({
          kind: 'metadata-loop',
          severity: 'fail',
          pod,
          count: loopCount,
          ...(this.best.count > 0 ? { firstAt: this.best.first, lastAt: this.best.last } : times(this.replays)),
          peerIds: [...peers],
          diagnosis:
            `${pod} is replaying its consensus log under a new identity (${loopCount} ${quoted} lines${forPeers}${span}${total}): ` +
            'raft_state.json was lost (qdrant/qdrant#6229)',
          remedy: restoreRemedy(ctx),
          example: this.replays.example,
        });
      } else {
        out.push({
          kind: 'metadata-replayed',
          severity: 'info',
          pod,
          count: this.replays.count,
          ...times(this.replays),
          peerIds: [...peers],
          diagnosis: `${this.replays.count} replayed ${quoted} line(s)${forPeers}, below the loop threshold of ${LOOP_MIN_REPEATS} in ${LOOP_WINDOW_SECONDS} s`,
          remedy: '',
          example: this.replays.example,
        });
      }
    }

    if (this.addresses) {
      const s = this.addresses;
      out.push({
        kind: 'address-replaced',
        severity: 'note',
        pod,
        count: s.count,
        ...times(s),
        peerIds: [...s.peers],
        diagnosis: `${s.count} "Replaced address of peer" line(s): ${s.changes.join(', ')}`,
        remedy: 'Usually a pod that came back with a new IP. If a peer id moved to the URI of another pod, compare GET /cluster with the record (cluster.membership).',
        example: s.example,
      });
    }

    if (this.changes) {
      const s = this.changes;
      const kinds = [...this.transitions.values()].filter((t) => t.m.from !== t.m.to).map((t) => `${t.m.from} -> ${t.m.to}`);
      const distinct = [...new Set(kinds)];
      out.push({
        kind: 'metadata-changed',
        severity: 'info',
        pod,
        count: s.count,
        ...times(s),
        peerIds: [...s.peers],
        diagnosis: `${s.count} peer metadata update(s) (${distinct.join(', ')}) for ${s.peers.length} peer(s): normal, one per upgraded peer`,
        remedy: '',
        example: s.example,
      });
    }

    if (this.initializing && !ctx.recordedInitialized) {
      const s = this.initializing;
      out.push({
        kind: 'new-state',
        severity: 'info',
        pod,
        count: s.count,
        ...times(s),
        peerIds: [],
        diagnosis: `new raft state at ${s.path} on a volume that held none before: expected for a new peer`,
        remedy: '',
        example: s.example,
      });
    }

    if (this.loading) {
      const s = this.loading;
      out.push({
        kind: 'state-loaded',
        severity: 'info',
        pod,
        count: s.count,
        ...times(s),
        peerIds: [],
        diagnosis: `loaded its raft state from ${s.paths.join(', ')}${s.count > 1 ? ` (${s.count} starts)` : ''}`,
        remedy: '',
        example: s.example,
      });
    }
    return out;
  }

  private topReplay(): MetadataReplacement | undefined {
    let best: { key: string; n: number } | undefined;
    for (const [key, n] of this.replayExample) if (!best || n > best.n) best = { key, n };
    if (!best) return undefined;
    return this.transitions.get(best.key)?.m;
  }
}

export function scanLogLines(lines: readonly string[], ctx: LogContext): LogFinding[] {
  return new LogLoopDetector(ctx).pushAll(lines).findings();
}

/** Splits a chunk of log text into lines (CRLF tolerated); a trailing partial line is kept. */
export function splitLogText(text: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function formatSeconds(s: number): string {
  if (s < 10) return `${s.toFixed(1).replace(/\.0$/, '')} s`;
  if (s < 120) return `${Math.round(s)} s`;
  return `${Math.round(s / 60)} min`;
}

function restoreRemedy(ctx: LogContext): string {
  const storage = ctx.storagePath ?? DEFAULT_STORAGE_PATH;
  const statefulset = ctx.statefulset ?? (/^(.+)-\d+$/.exec(ctx.pod)?.[1] ?? ctx.pod);
  const dir = ctx.archiveDir ?? `${storage.replace(/\/+$/, '')}/.upgrade-guard`;
  const archivePath = ctx.archive ? (ctx.archive.includes('/') ? ctx.archive : `${dir}/${ctx.archive}`) : undefined;
  return restoreArchive({ ...(archivePath ? { archivePath } : {}), storagePath: storage, statefulset, pod: ctx.pod, ...(ctx.release ? { release: ctx.release } : {}) });
}

// ---------------------------------------------------------------------------------------------

/** The log verdicts of one pod as checks: identity (how the state was found) and the loop. */
export function findingsToChecks(findings: readonly LogFinding[], pod: string): Check[] {
  const byKind = new Map(findings.map((f) => [f.kind, f]));
  const checks: Check[] = [];

  const lost = byKind.get('identity-lost');
  const loaded = byKind.get('state-loaded');
  const fresh = byKind.get('new-state');
  const idExpected = '"Loading raft state from" on a volume that held a state';
  if (lost) checks.push(check(CHECK_IDS.peerIdentityLost, 'fail', pod, lost.diagnosis, idExpected, lost.remedy));
  else if (loaded) checks.push(check(CHECK_IDS.peerIdentityLost, 'pass', pod, loaded.diagnosis, idExpected));
  else if (fresh) checks.push(check(CHECK_IDS.peerIdentityLost, 'pass', pod, fresh.diagnosis, idExpected));
  else {
    checks.push(
      check(
        CHECK_IDS.peerIdentityLost,
        'skip',
        pod,
        'neither "Loading raft state" nor "Initializing new raft state" in the log lines read (the start of the log may be older than what was read)',
        idExpected,
      ),
    );
  }

  const loop = byKind.get('metadata-loop');
  const loopExpected = `fewer than ${LOOP_MIN_REPEATS} replayed "Replaced metadata" lines in ${LOOP_WINDOW_SECONDS} s`;
  if (loop) {
    checks.push(check(CHECK_IDS.peerLogLoop, 'fail', pod, loop.diagnosis, loopExpected, loop.remedy));
  } else {
    const parts: string[] = [];
    const changed = byKind.get('metadata-changed');
    const replayed = byKind.get('metadata-replayed');
    if (changed) parts.push(changed.diagnosis);
    if (replayed) parts.push(replayed.diagnosis);
    const observed = parts.length > 0 ? `no replay loop: ${parts.join('; ')}` : 'no "Replaced metadata" lines';
    checks.push(check(CHECK_IDS.peerLogLoop, 'pass', pod, observed, loopExpected));
  }

  const address = byKind.get('address-replaced');
  if (address) {
    checks.push(check(CHECK_IDS.peerAddressChange, 'pass', pod, `note: ${address.diagnosis}`, 'peer addresses stable', address.remedy));
  }
  return checks;
}
