/**
 * `diagnose-logs`: is the qdrant/qdrant#6229 signature in a Qdrant log an operator already has? Pure: lines in,
 * a diagnosis out; time comes only from the lines' own timestamps.
 *
 * Every pattern below was seen in the logs of the real 1.13.4, 1.13.5 and 1.16.3 servers (test/fixtures/qdrant-logs),
 * in text and JSON formats:
 * - the peer that lost its state: `Initializing new raft state at ...` followed, in the same start, by
 *   `Loading collection: ...` (a fresh volume has no collections to load); the old consensus log replayed under
 *   the new id (`Failed to apply collection meta operation entry with user error: Wrong input: Collection `c1`
 *   already exists!`, `Replica <id> of shard <n> has state Some(Active), but expected Some(Initializing)`);
 *   `Replaced metadata of peer <id> from <v> to <v>` with the same version on both sides (a live proposal never
 *   replaces a version by itself: these are replayed entries, one per minute the peer spent stuck); on 1.16 with
 *   other peers, the panic `Can't initialize consensus: Failed to initialize Consensus for new Raft state`.
 * - the peers that saw it: the replayed `Collection ... already exists!` entries proposed by the lost peer, and on
 *   1.16 the leader's `Rejected peer <new id> to join consensus, URI is already registered by peer <old id>`.
 * Normal lines stay normal: `Replaced metadata ... 1.13.4 to ... 1.13.5` once per upgraded peer, a peer's
 * address replaced by a different one (a pod with a new IP), a new raft state on an empty volume.
 */
import { check, type Check, type CheckId } from '../report.js';
import { LogLoopDetector, parseLogLine, stripAnsi, type ParsedLogLine } from './log-loop.js';
import { RUNBOOKS, UPSTREAM, runbook } from './remedies.js';

export const SIGNATURE_KINDS = [
  'new-state-on-used-volume',
  'metadata-loop',
  'replayed-operations',
  'address-reregistered',
  'duplicate-peer',
  'join-rejected',
  'consensus-init-panic',
] as const;
export type SignatureKind = (typeof SIGNATURE_KINDS)[number];

/** Whose log this is, as far as the log can tell. */
export type LogRole = 'lost-state' | 'witness' | 'clean';

export interface SignatureFinding {
  kind: SignatureKind;
  /** Lines of this kind. */
  count: number;
  firstLine: string;
  lastLine: string;
  firstAt?: string;
  lastAt?: string;
  /** Seconds between the first and the last line, when both carry timestamps. */
  spanSeconds?: number;
  /** Peer ids these lines name, in order of first appearance (decimal strings: u64). */
  peerIds: string[];
  /** What it means, one sentence with numbers. */
  meaning: string;
}

export interface LogDiagnosis {
  signature: boolean;
  role: LogRole;
  pod?: string;
  linesRead: number;
  /** Lines by format: Qdrant's text lines, JSON lines, and anything else (banner, bare text). */
  formats: { text: number; json: number; other: number };
  findings: SignatureFinding[];
  /** Normal events worth a line (metadata updated on upgrade, addresses changed). */
  notes: string[];
  /** The id the lost peer minted, when a line names it (1.16 join rejection). */
  mintedPeerId?: string;
  /** The id the lost peer had before, when a line names it (or --recorded-peer-id). */
  previousPeerId?: string;
}

export interface DiagnoseOptions {
  pod?: string;
  /** From the guard's record ConfigMap: the id this pod had before the upgrade. */
  recordedPeerId?: string;
}

const INITIALIZING = /Initializing new raft state at (\S+)/;
const LOADING_STATE = /Loading raft state from (\S+)/;
const LOADING_COLLECTION = /Loading collection: (\S+)/;
const ALREADY_EXISTS = /Failed to apply collection meta operation entry with user error: Wrong input: Collection `([^`]+)` already exists!/;
const REPLICA_STATE = /Failed to apply collection meta operation entry with user error: Wrong input: Replica (\d+) of shard (\d+) has state Some\(Active\), but expected Some\(Initializing\)/;
const ADDRESS = /Replaced address of peer (\d+) from (\S+) to (\S+)/;
const REJECTED = /Rejected peer (\d+) to join consensus, URI is already registered by peer (\d+)/;
const PANIC = /Can't initialize consensus: Failed to initialize Consensus for new Raft state/;
const URI_TAKEN = /peer URI (\S+) already used by peer (\d+)/;

interface Acc {
  count: number;
  first: ParsedLogLine & { raw: string };
  last: ParsedLogLine & { raw: string };
  peerIds: string[];
  extra: Set<string>;
}

function uriKey(u: string): string {
  return u.toLowerCase().replace(/\/+$/, '');
}

function seconds(a?: number, b?: number): number | undefined {
  return a !== undefined && b !== undefined ? Math.round((b - a) / 100) / 10 : undefined;
}

function formatSpan(s: number | undefined): string {
  if (s === undefined || s === 0) return '';
  if (s < 120) return ` over ${s} s`;
  if (s < 7200) return ` over ${Math.round(s / 60)} min`;
  return ` over ${(s / 3600).toFixed(1)} h`;
}

/** Reads log lines (any mix of Qdrant's text and JSON formats) and says whether the #6229 signature is there. */
export class LogDiagnoser {
  private readonly opts: DiagnoseOptions;
  private readonly loop: LogLoopDetector;
  private readonly acc = new Map<SignatureKind, Acc>();
  private readonly formats = { text: 0, json: 0, other: 0 };
  private lines = 0;
  /** Inside a start that began with "Initializing new raft state" (until the next state line). */
  private freshStart = false;
  private freshStartLine?: ParsedLogLine & { raw: string };
  private readonly addressNotes = new Set<string>();
  private minted?: string;
  private previous?: string;

  constructor(opts: DiagnoseOptions = {}) {
    this.opts = opts;
    this.loop = new LogLoopDetector({ pod: opts.pod ?? 'qdrant', recordedInitialized: false });
  }

  private add(kind: SignatureKind, line: ParsedLogLine & { raw: string }, ids: string[] = [], extra?: string): void {
    const a = this.acc.get(kind) ?? { count: 0, first: line, last: line, peerIds: [], extra: new Set<string>() };
    a.count++;
    a.last = line;
    for (const id of ids) if (!a.peerIds.includes(id)) a.peerIds.push(id);
    if (extra) a.extra.add(extra);
    this.acc.set(kind, a);
  }

  push(raw: string): void {
    const parsed = parseLogLine(raw);
    if (!parsed) return;
    this.lines++;
    const trimmed = stripAnsi(raw).trim();
    if (/^\s*(?:\S+\s+)?\{/.test(trimmed) && parsed.target !== undefined && !/^\S+\s+(TRACE|DEBUG|INFO|WARN|ERROR)\s/.test(trimmed)) this.formats.json++;
    else if (parsed.level !== undefined) this.formats.text++;
    else this.formats.other++;
    this.loop.push(raw);
    const line = { ...parsed, raw: trimmed };
    const msg = parsed.message;

    if (INITIALIZING.test(msg)) {
      this.freshStart = true;
      this.freshStartLine = line;
      return;
    }
    if (LOADING_STATE.test(msg)) {
      this.freshStart = false;
      return;
    }
    const coll = LOADING_COLLECTION.exec(msg);
    if (coll && this.freshStart) {
      // Count the start once (its Initializing line) and each collection it found on the volume.
      if (this.freshStartLine) {
        this.add('new-state-on-used-volume', this.freshStartLine);
        this.freshStartLine = undefined;
      }
      this.add('new-state-on-used-volume', line, [], coll[1]!);
      return;
    }
    const exists = ALREADY_EXISTS.exec(msg);
    if (exists) {
      this.add('replayed-operations', line, [], `collection ${exists[1]} created again`);
      return;
    }
    const replica = REPLICA_STATE.exec(msg);
    if (replica) {
      this.add('replayed-operations', line, [replica[1]!], `replica ${replica[1]} of shard ${replica[2]} activated again`);
      return;
    }
    const rejected = REJECTED.exec(msg);
    if (rejected) {
      this.minted ??= rejected[1]!;
      this.previous ??= rejected[2]!;
      this.add('join-rejected', line, [rejected[1]!, rejected[2]!]);
      return;
    }
    if (PANIC.test(msg)) {
      this.add('consensus-init-panic', line);
      return;
    }
    const addr = ADDRESS.exec(msg);
    if (addr) {
      if (uriKey(addr[2]!) === uriKey(addr[3]!)) this.add('address-reregistered', line, [addr[1]!], addr[2]!);
      else this.addressNotes.add(`peer ${addr[1]} moved from ${addr[2]} to ${addr[3]}`);
      return;
    }
    const taken = URI_TAKEN.exec(msg);
    if (taken) this.add('duplicate-peer', line, [taken[2]!], taken[1]!);
  }

  pushAll(lines: Iterable<string>): this {
    for (const l of lines) this.push(l);
    return this;
  }

  diagnosis(): LogDiagnosis {
    const findings: SignatureFinding[] = [];
    const loopFinding = this.loop.findings().find((f) => f.kind === 'metadata-loop' || f.kind === 'metadata-replayed');
    const notes: string[] = [];
    const changed = this.loop.findings().find((f) => f.kind === 'metadata-changed');
    if (changed) notes.push(changed.diagnosis);
    for (const n of this.addressNotes) notes.push(`${n} (a pod with a new address: normal)`);

    for (const kind of SIGNATURE_KINDS) {
      if (kind === 'metadata-loop') {
        // Replayed metadata (a version replaced by itself) is the loop when the detector says so, or as soon as it
        // follows a new raft state on a used volume in the same log: that is the seed's replay of its stuck minutes.
        if (loopFinding && (loopFinding.kind === 'metadata-loop' || this.acc.has('new-state-on-used-volume'))) {
          findings.push({
            kind,
            count: loopFinding.count,
            firstLine: loopFinding.example,
            lastLine: loopFinding.example,
            ...(loopFinding.firstAt ? { firstAt: loopFinding.firstAt } : {}),
            ...(loopFinding.lastAt ? { lastAt: loopFinding.lastAt } : {}),
            ...spanOf(loopFinding.firstAt, loopFinding.lastAt),
            peerIds: loopFinding.peerIds,
            meaning:
              `${loopFinding.count} replayed "Replaced metadata" line(s) (a version replaced by itself, once per minute a peer spent ` +
              `stuck) for peer(s) ${loopFinding.peerIds.join(', ')}: the consensus log is being replayed under a new identity`,
          });
        }
        continue;
      }
      const a = this.acc.get(kind);
      if (!a) continue;
      const span = seconds(a.first.timeMs, a.last.timeMs);
      findings.push({
        kind,
        count: a.count,
        firstLine: a.first.raw,
        lastLine: a.last.raw,
        ...(a.first.timestamp ? { firstAt: a.first.timestamp } : {}),
        ...(a.last.timestamp ? { lastAt: a.last.timestamp } : {}),
        ...(span !== undefined ? { spanSeconds: span } : {}),
        peerIds: a.peerIds,
        meaning: meaningOf(kind, a),
      });
    }
    const lostKinds: SignatureKind[] = ['new-state-on-used-volume', 'metadata-loop', 'consensus-init-panic', 'address-reregistered'];
    // Replayed operations alone are what the peers that saw it log too: only the new state on a used volume, the
    // self-replacing metadata, the panic or a re-registered address say that this log's own peer lost its state.
    const ownLoss = findings.some((f) => lostKinds.includes(f.kind));
    const role: LogRole = ownLoss ? 'lost-state' : findings.length > 0 ? 'witness' : 'clean';
    const previous = this.opts.recordedPeerId ?? this.previous;
    return {
      signature: findings.length > 0,
      role,
      ...(this.opts.pod ? { pod: this.opts.pod } : {}),
      linesRead: this.lines,
      formats: { ...this.formats },
      findings,
      notes,
      ...(this.minted ? { mintedPeerId: this.minted } : {}),
      ...(previous ? { previousPeerId: previous } : {}),
    };
  }
}

function spanOf(first?: string, last?: string): { spanSeconds?: number } {
  if (!first || !last) return {};
  const s = seconds(Date.parse(first), Date.parse(last));
  return s === undefined || Number.isNaN(s) ? {} : { spanSeconds: s };
}

function meaningOf(kind: SignatureKind, a: Acc): string {
  const extra = [...a.extra];
  switch (kind) {
    case 'new-state-on-used-volume':
      return (
        `a new raft state was initialized and then ${extra.length} collection(s) were loaded from the same volume (${extra.slice(0, 5).join(', ')}): ` +
        'the volume had been used, so its raft_state.json was lost and the peer started under a new id'
      );
    case 'replayed-operations':
      return `${a.count} collection operation(s) applied a second time (${extra.slice(0, 3).join('; ')}${extra.length > 3 ? '; ...' : ''}): the consensus log is being replayed by a peer that lost its state`;
    case 'address-reregistered':
      return `peer(s) ${a.peerIds.join(', ')} registered again at the address they already had (${extra.slice(0, 3).join(', ')}): a replayed join`;
    case 'duplicate-peer':
      return `a second peer id asked for the URI of peer ${a.peerIds.join(', ')} (${extra.slice(0, 3).join(', ')}), which Qdrant refuses: two ids for one address`;
    case 'join-rejected':
      return `the leader rejected ${a.count} join(s) of peer ${a.peerIds[0]} because its URI belongs to peer ${a.peerIds[1]}: the peer at that URI lost its raft state and came back under a new id`;
    case 'consensus-init-panic':
      return `the peer panicked ${a.count} time(s) while initializing consensus with a new raft state: a crash loop until its state is restored`;
    default:
      return '';
  }
}

export function diagnoseLogLines(lines: Iterable<string>, opts: DiagnoseOptions = {}): LogDiagnosis {
  return new LogDiagnoser(opts).pushAll(lines).diagnosis();
}

const KIND_CHECK: Record<SignatureKind, CheckId> = {
  'new-state-on-used-volume': 'diagnose.new-state',
  'metadata-loop': 'diagnose.metadata-loop',
  'replayed-operations': 'diagnose.replayed-operations',
  'address-reregistered': 'diagnose.replayed-operations',
  'duplicate-peer': 'diagnose.duplicate-peer',
  'join-rejected': 'diagnose.join-rejected',
  'consensus-init-panic': 'diagnose.consensus-panic',
};

export interface DiagnoseRemedyContext {
  /** Storage path in the pod, for the restore command (default /qdrant/storage). */
  storagePath?: string;
}

/** What to do, by whose log it is. */
export function diagnosisRemedy(d: LogDiagnosis, ctx: DiagnoseRemedyContext = {}): string {
  const storage = ctx.storagePath ?? '/qdrant/storage';
  const who = d.pod ?? 'this pod';
  const minted = d.mintedPeerId ?? '<the id it minted, GET /cluster on it shows peer_id>';
  // On 1.16 the leader rejects the stranger, so the minted id never enters the consensus: nothing to remove.
  const joined = d.findings.some((f) => f.kind === 'metadata-loop' || f.kind === 'replayed-operations' || f.kind === 'new-state-on-used-volume');
  const rejected = d.findings.some((f) => f.kind === 'join-rejected' || f.kind === 'consensus-init-panic');
  const removal =
    rejected && !joined
      ? 'the leader rejected the new id, so nothing else needs removing'
      : `then remove the id it minted from the consensus with Qdrant's DELETE /cluster/peer/{peer_id} API, sent to any peer: ` +
        `curl -X DELETE 'http://<peer>:6333/cluster/peer/${minted}' (add ?force=true if shards were placed on it)`;
  if (d.role === 'lost-state') {
    const was = d.previousPeerId ? ` (it was peer ${d.previousPeerId})` : '';
    return (
      `${who} lost its raft state${was} (${UPSTREAM.lostRaftState}). Stop Qdrant on its volume and restore the archive taken ` +
      `before the incident: list them with \`qdrant-upgrade-guard archives --storage ${storage}\`, restore with ` +
      `\`qdrant-upgrade-guard restore --archive <file> --storage ${storage}\`` +
      ` (add --allow-peer-change: the volume now holds the state of the id it minted, which restore protects otherwise)` +
      `; ${removal}. See ${runbook(RUNBOOKS.lostState)}.`
    );
  }
  return (
    `${who} saw another peer come back without its raft state (${UPSTREAM.lostRaftState})` +
    (d.previousPeerId ? `: peer ${d.previousPeerId}'s URI is now claimed by ${minted}` : '') +
    `. Run diagnose-logs on every pod's log to find the one that lost it, restore that pod's archive taken before the ` +
    `incident (qdrant-upgrade-guard restore), ${removal}. See ${runbook(RUNBOOKS.lostState)}.`
  );
}

/** One check per kind found, or one passing check when the log is clean. */
export function diagnosisChecks(d: LogDiagnosis, ctx: DiagnoseRemedyContext = {}): Check[] {
  const subject = d.pod ?? 'log';
  if (!d.signature) {
    const read = `${d.linesRead} line(s) read (${d.formats.text} text, ${d.formats.json} JSON, ${d.formats.other} other)`;
    return [
      check(
        'diagnose.signature',
        'pass',
        subject,
        `no #6229 signature: ${read}${d.notes.length > 0 ? `; ${d.notes.join('; ')}` : ''}`,
        'no lost raft state in the log',
      ),
    ];
  }
  const remedy = diagnosisRemedy(d, ctx);
  const out: Check[] = [
    check(
      'diagnose.signature',
      'fail',
      subject,
      `#6229 signature found (${d.role === 'lost-state' ? 'this peer lost its raft state' : 'this peer saw another one lose its state'}): ` +
        d.findings.map((f) => `${f.kind} x${f.count}`).join(', '),
      'no lost raft state in the log',
      remedy,
    ),
  ];
  const byCheck = new Map<CheckId, SignatureFinding[]>();
  for (const f of d.findings) byCheck.set(KIND_CHECK[f.kind], [...(byCheck.get(KIND_CHECK[f.kind]) ?? []), f]);
  for (const [id, fs] of byCheck) {
    const observed = fs
      .map((f) => {
        const when = f.firstAt ? ` from ${f.firstAt}${f.lastAt && f.lastAt !== f.firstAt ? ` to ${f.lastAt}` : ''}${formatSpan(f.spanSeconds)}` : '';
        const lines = f.count > 1 && f.lastLine !== f.firstLine ? `; first: ${f.firstLine}; last: ${f.lastLine}` : `; line: ${f.firstLine}`;
        return `${f.meaning} (${f.count} line(s)${when}${lines})`;
      })
      .join(' | ');
    out.push(check(id, 'fail', subject, observed, 'absent', remedy));
  }
  return out;
}
