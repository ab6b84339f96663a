import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  LOOP_MIN_REPEATS,
  LOOP_WINDOW_SECONDS,
  LogLoopDetector,
  findingsToChecks,
  parseLogLine,
  parseMetadataReplacement,
  scanLogLines,
  splitLogText,
  type LogContext,
  type LogFinding,
  type ParsedLogLine,
} from '../../../hook/policy/log-loop.js';
import type { Check } from '../../../hook/report.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** The line as reported in qdrant/qdrant#6229 (1.13.4 -> 1.13.5), without a timestamp. */
const ISSUE_LINE = readFileSync(
  path.resolve(repoRoot, 'test/fixtures/raft-state/public/issue-6229_v1.13.4-to-v1.13.5_replaced-metadata-logline.txt'),
  'utf8',
).trim();

const PEER = '1439658109858024';
const TARGET = 'storage::content_manager::consensus::persistent';
const meta = (major: number, minor: number, patch: number, pre?: string) =>
  `PeerMetadata { version: Version { major: ${major}, minor: ${minor}, patch: ${patch}${pre ? `, pre: Prerelease("${pre}")` : ''} } }`;
const replacedMsg = (peer: string, from: string, to: string) => `Replaced metadata of peer ${peer} from ${from} to ${to}`;
const v1134 = meta(1, 13, 4);
const v1135 = meta(1, 13, 5);
const ts = (second: number) => {
  const d = new Date(Date.UTC(2025, 2, 21, 10, 15, 0) + second * 1000);
  return d.toISOString().replace(/\.000Z$/, '.123456Z');
};
const text = (second: number, level: string, msg: string) => `${ts(second)}  ${level} ${TARGET}: ${msg}`;
const ansi = (second: number, level: string, msg: string) =>
  `\x1b[2m${ts(second)}\x1b[0m \x1b[32m ${level}\x1b[0m \x1b[2m${TARGET}\x1b[0m\x1b[2m:\x1b[0m ${msg}`;
const json = (second: number, level: string, msg: string) =>
  JSON.stringify({ timestamp: ts(second), level, fields: { message: msg }, target: TARGET });
const times = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

const ARCHIVE = 'raft-qdrant-0-1.13.4-to-1.13.5-20250321T101502Z.tar.gz';
const CTX: LogContext = { pod: 'qdrant-0', recordedInitialized: true, archive: ARCHIVE };
const RESTORE = `Scale the StatefulSet to 0 (kubectl scale statefulset qdrant --replicas=0), restore ${ARCHIVE} with \`qdrant-upgrade-guard restore --archive /qdrant/storage/.upgrade-guard/${ARCHIVE} --storage /qdrant/storage\`, then scale back (docs/runbooks.md#restore-an-archive).`;
const LOOP_QUOTE = `'Replaced metadata of peer ${PEER} from 1.13.4 to 1.13.4'`;

interface Row {
  name: string;
  lines: string[];
  ctx?: Partial<LogContext>;
  expected: LogFinding[];
}

const loopFinding = (over: Partial<LogFinding>): LogFinding => ({
  kind: 'metadata-loop',
  severity: 'fail',
  pod: 'qdrant-0',
  count: 25,
  peerIds: [PEER],
  diagnosis: `qdrant-0 is replaying its consensus log under a new identity (25 ${LOOP_QUOTE} lines): raft_state.json was lost (qdrant/qdrant#6229)`,
  remedy: RESTORE,
  example: ISSUE_LINE,
  ...over,
});

const rows: Row[] = [
  {
    name: 'detects the #6229 loop from the line reported in the issue, repeated 25 times without timestamps',
    lines: times(25, () => ISSUE_LINE),
    expected: [loopFinding({})],
  },
  {
    name: `stays quiet below the threshold: ${LOOP_MIN_REPEATS - 1} replayed lines are reported, not failed`,
    lines: times(LOOP_MIN_REPEATS - 1, () => ISSUE_LINE),
    expected: [
      {
        kind: 'metadata-replayed',
        severity: 'info',
        pod: 'qdrant-0',
        count: 19,
        peerIds: [PEER],
        diagnosis: `19 replayed ${LOOP_QUOTE} line(s), below the loop threshold of 20 in 300 s`,
        remedy: '',
        example: ISSUE_LINE,
      },
    ],
  },
  {
    name: 'detects the loop in plain tracing text and reports how fast it repeats',
    lines: times(25, (i) => text(i, 'INFO', replacedMsg(PEER, v1134, v1134))),
    expected: [
      loopFinding({
        firstAt: ts(0),
        lastAt: ts(24),
        diagnosis: `qdrant-0 is replaying its consensus log under a new identity (25 ${LOOP_QUOTE} lines in 24 s): raft_state.json was lost (qdrant/qdrant#6229)`,
        example: text(0, 'INFO', replacedMsg(PEER, v1134, v1134)),
      }),
    ],
  },
  {
    name: 'detects the loop in coloured output (ANSI codes stripped, also in the evidence line)',
    lines: times(25, (i) => ansi(i, 'INFO', replacedMsg(PEER, v1134, v1134))),
    expected: [
      loopFinding({
        firstAt: ts(0),
        lastAt: ts(24),
        diagnosis: `qdrant-0 is replaying its consensus log under a new identity (25 ${LOOP_QUOTE} lines in 24 s): raft_state.json was lost (qdrant/qdrant#6229)`,
        example: `${ts(0)}  INFO ${TARGET}: ${replacedMsg(PEER, v1134, v1134)}`,
      }),
    ],
  },
  {
    name: 'detects the loop in JSON lines (logger.format: json)',
    lines: times(25, (i) => json(i, 'INFO', replacedMsg(PEER, v1134, v1134))),
    expected: [
      loopFinding({
        firstAt: ts(0),
        lastAt: ts(24),
        diagnosis: `qdrant-0 is replaying its consensus log under a new identity (25 ${LOOP_QUOTE} lines in 24 s): raft_state.json was lost (qdrant/qdrant#6229)`,
        example: json(0, 'INFO', replacedMsg(PEER, v1134, v1134)),
      }),
    ],
  },
  {
    name: `does not call it a loop when the replays are spread thinner than ${LOOP_MIN_REPEATS} in ${LOOP_WINDOW_SECONDS} s`,
    lines: times(25, (i) => text(i * 20, 'INFO', replacedMsg(PEER, v1134, v1134))),
    expected: [
      {
        kind: 'metadata-replayed',
        severity: 'info',
        pod: 'qdrant-0',
        count: 25,
        firstAt: ts(0),
        lastAt: ts(480),
        peerIds: [PEER],
        diagnosis: `25 replayed ${LOOP_QUOTE} line(s), below the loop threshold of 20 in 300 s`,
        remedy: '',
        example: text(0, 'INFO', replacedMsg(PEER, v1134, v1134)),
      },
    ],
  },
  {
    name: 'counts the densest window: 20 fast replays after a slow start are a loop',
    lines: [...times(5, (i) => text(i * 100, 'INFO', replacedMsg(PEER, v1134, v1134))), ...times(20, (i) => text(1000 + i, 'INFO', replacedMsg(PEER, v1134, v1134)))],
    expected: [
      loopFinding({
        count: 20,
        firstAt: ts(1000),
        lastAt: ts(1019),
        diagnosis: `qdrant-0 is replaying its consensus log under a new identity (20 ${LOOP_QUOTE} lines in 19 s; 25 in all): raft_state.json was lost (qdrant/qdrant#6229)`,
        example: text(0, 'INFO', replacedMsg(PEER, v1134, v1134)),
      }),
    ],
  },
  {
    name: 'a normal upgrade: one metadata change per upgraded peer and the state loaded from disk',
    lines: [
      text(0, 'INFO', 'Loading raft state from ./storage/raft_state.json'),
      text(5, 'INFO', replacedMsg(PEER, v1134, v1135)),
      text(6, 'INFO', replacedMsg('5720141224587513', v1134, v1135)),
      text(7, 'INFO', replacedMsg('11532566549086892528', v1134, v1135)),
    ],
    expected: [
      {
        kind: 'metadata-changed',
        severity: 'info',
        pod: 'qdrant-0',
        count: 3,
        firstAt: ts(5),
        lastAt: ts(7),
        peerIds: [PEER, '5720141224587513', '11532566549086892528'],
        diagnosis: '3 peer metadata update(s) (1.13.4 -> 1.13.5) for 3 peer(s): normal, one per upgraded peer',
        remedy: '',
        example: text(5, 'INFO', replacedMsg(PEER, v1134, v1135)),
      },
      {
        kind: 'state-loaded',
        severity: 'info',
        pod: 'qdrant-0',
        count: 1,
        firstAt: ts(0),
        lastAt: ts(0),
        peerIds: [],
        diagnosis: 'loaded its raft state from ./storage/raft_state.json',
        remedy: '',
        example: text(0, 'INFO', 'Loading raft state from ./storage/raft_state.json'),
      },
    ],
  },
  {
    name: 'the same upgrade transition replayed over and over is a loop too (an old log re-applied)',
    lines: times(21, (i) => text(i, 'INFO', replacedMsg(PEER, v1134, v1135))),
    expected: [
      {
        kind: 'metadata-loop',
        severity: 'fail',
        pod: 'qdrant-0',
        count: 20,
        firstAt: ts(1),
        lastAt: ts(20),
        peerIds: [PEER],
        diagnosis: `qdrant-0 is replaying its consensus log under a new identity (20 'Replaced metadata of peer ${PEER} from 1.13.4 to 1.13.5' lines in 19 s): raft_state.json was lost (qdrant/qdrant#6229)`,
        remedy: RESTORE,
        example: text(1, 'INFO', replacedMsg(PEER, v1134, v1135)),
      },
      {
        kind: 'metadata-changed',
        severity: 'info',
        pod: 'qdrant-0',
        count: 1,
        firstAt: ts(0),
        lastAt: ts(0),
        peerIds: [PEER],
        diagnosis: '1 peer metadata update(s) (1.13.4 -> 1.13.5) for 1 peer(s): normal, one per upgraded peer',
        remedy: '',
        example: text(0, 'INFO', replacedMsg(PEER, v1134, v1135)),
      },
    ],
  },
  {
    name: 'names how many peers are replayed and quotes the most frequent line',
    lines: times(30, (i) => ISSUE_LINE.replace(PEER, i % 3 === 0 ? '42' : PEER)),
    expected: [
      loopFinding({
        count: 30,
        peerIds: ['42', PEER],
        diagnosis: `qdrant-0 is replaying its consensus log under a new identity (30 ${LOOP_QUOTE} lines for 2 peers): raft_state.json was lost (qdrant/qdrant#6229)`,
        example: ISSUE_LINE.replace(PEER, '42'),
      }),
    ],
  },
  {
    name: 'reads pre-release versions in the metadata (Version { .., pre: Prerelease("dev") })',
    lines: times(20, () => `INFO ${TARGET}: ${replacedMsg(PEER, meta(1, 11, 6, 'dev'), meta(1, 11, 6, 'dev'))}`),
    expected: [
      loopFinding({
        count: 20,
        diagnosis: `qdrant-0 is replaying its consensus log under a new identity (20 'Replaced metadata of peer ${PEER} from 1.11.6-dev to 1.11.6-dev' lines): raft_state.json was lost (qdrant/qdrant#6229)`,
        example: `INFO ${TARGET}: ${replacedMsg(PEER, meta(1, 11, 6, 'dev'), meta(1, 11, 6, 'dev'))}`,
      }),
    ],
  },
  {
    name: 'fails at once on "Initializing new raft state" when the record says the volume held a state (the incident)',
    lines: [text(0, 'INFO', 'Initializing new raft state at ./storage/raft_state.json')],
    ctx: { recordedPeerId: PEER },
    expected: [
      {
        kind: 'identity-lost',
        severity: 'fail',
        pod: 'qdrant-0',
        count: 1,
        firstAt: ts(0),
        lastAt: ts(0),
        peerIds: [PEER],
        diagnosis: `qdrant-0 logged "Initializing new raft state at ./storage/raft_state.json" on a volume that held a raft state before the upgrade as peer ${PEER}: raft_state.json was lost and a new peer id is being minted (qdrant/qdrant#6229)`,
        remedy: RESTORE,
        example: text(0, 'INFO', 'Initializing new raft state at ./storage/raft_state.json'),
      },
    ],
  },
  {
    name: 'accepts "Initializing new raft state" on a fresh volume: a new peer',
    lines: [json(0, 'INFO', 'Initializing new raft state at ./storage/raft_state.json')],
    ctx: { recordedInitialized: false },
    expected: [
      {
        kind: 'new-state',
        severity: 'info',
        pod: 'qdrant-0',
        count: 1,
        firstAt: ts(0),
        lastAt: ts(0),
        peerIds: [],
        diagnosis: 'new raft state at ./storage/raft_state.json on a volume that held none before: expected for a new peer',
        remedy: '',
        example: json(0, 'INFO', 'Initializing new raft state at ./storage/raft_state.json'),
      },
    ],
  },
  {
    name: 'notes "Replaced address of peer" (WARN) without failing',
    lines: [ansi(3, 'WARN', `Replaced address of peer ${PEER} from http://10.0.0.10:6335/ to http://10.0.0.31:6335/`)],
    expected: [
      {
        kind: 'address-replaced',
        severity: 'note',
        pod: 'qdrant-0',
        count: 1,
        firstAt: ts(3),
        lastAt: ts(3),
        peerIds: [PEER],
        diagnosis: `1 "Replaced address of peer" line(s): peer ${PEER} http://10.0.0.10:6335/ -> http://10.0.0.31:6335/`,
        remedy: 'Usually a pod that came back with a new IP. If a peer id moved to the URI of another pod, compare GET /cluster with the record (cluster.membership).',
        example: `${ts(3)}  WARN ${TARGET}: Replaced address of peer ${PEER} from http://10.0.0.10:6335/ to http://10.0.0.31:6335/`,
      },
    ],
  },
  {
    name: 'reads lines behind a `kubectl logs --timestamps` prefix, using Qdrant\'s own timestamp',
    lines: [`2025-03-21T10:15:09.999999999Z ${text(0, 'INFO', 'Loading raft state from /qdrant/storage/raft_state')}`],
    expected: [
      {
        kind: 'state-loaded',
        severity: 'info',
        pod: 'qdrant-0',
        count: 1,
        firstAt: ts(0),
        lastAt: ts(0),
        peerIds: [],
        diagnosis: 'loaded its raft state from /qdrant/storage/raft_state',
        remedy: '',
        example: `2025-03-21T10:15:09.999999999Z ${text(0, 'INFO', 'Loading raft state from /qdrant/storage/raft_state')}`,
      },
    ],
  },
  {
    name: 'finds nothing in unrelated, blank or broken lines',
    lines: ['', '   ', text(0, 'INFO', 'Qdrant HTTP listening on 6333'), '{"not":"a log line"', '{"level":"INFO"}', 'Replaced metadata of peer x from nothing'],
    expected: [],
  },
  {
    name: 'without a recorded archive, the remedy says how to find the newest one',
    lines: [text(0, 'INFO', 'Initializing new raft state at /qdrant/storage/raft_state.json')],
    ctx: { archive: undefined, pod: 'vectors-2' },
    expected: [
      {
        kind: 'identity-lost',
        severity: 'fail',
        pod: 'vectors-2',
        count: 1,
        firstAt: ts(0),
        lastAt: ts(0),
        peerIds: [],
        diagnosis:
          'vectors-2 logged "Initializing new raft state at /qdrant/storage/raft_state.json" on a volume that held a raft state before the upgrade: raft_state.json was lost and a new peer id is being minted (qdrant/qdrant#6229)',
        remedy:
          "Scale the StatefulSet to 0 (kubectl scale statefulset vectors --replicas=0), restore the newest pre-upgrade archive of vectors-2's volume (list them with `qdrant-upgrade-guard archives --storage /qdrant/storage`) with `qdrant-upgrade-guard restore --archive <file> --storage /qdrant/storage`, then scale back (docs/runbooks.md#restore-an-archive).",
        example: text(0, 'INFO', 'Initializing new raft state at /qdrant/storage/raft_state.json'),
      },
    ],
  },
  {
    name: 'uses a full archive path, the storage path and StatefulSet it is given',
    lines: [text(0, 'INFO', 'Initializing new raft state at /data/raft_state.json')],
    ctx: { archive: '/snap/.upgrade-guard/raft-vec-0-a.tar.gz', storagePath: '/data', statefulset: 'vec' },
    expected: [
      {
        kind: 'identity-lost',
        severity: 'fail',
        pod: 'qdrant-0',
        count: 1,
        firstAt: ts(0),
        lastAt: ts(0),
        peerIds: [],
        diagnosis:
          'qdrant-0 logged "Initializing new raft state at /data/raft_state.json" on a volume that held a raft state before the upgrade: raft_state.json was lost and a new peer id is being minted (qdrant/qdrant#6229)',
        remedy:
          'Scale the StatefulSet to 0 (kubectl scale statefulset vec --replicas=0), restore raft-vec-0-a.tar.gz with `qdrant-upgrade-guard restore --archive /snap/.upgrade-guard/raft-vec-0-a.tar.gz --storage /data`, then scale back (docs/runbooks.md#restore-an-archive).',
        example: text(0, 'INFO', 'Initializing new raft state at /data/raft_state.json'),
      },
    ],
  },
];

describe('policy/log-loop: the qdrant/qdrant#6229 detector (docs/qdrant-facts.md#log-lines)', () => {
  for (const row of rows) {
    it(row.name, () => {
      expect(scanLogLines(row.lines, { ...CTX, ...row.ctx })).to.deep.equal(row.expected);
    });
  }

  it('fails fast: the streaming detector turns failed() on at the 20th replayed line, not before', () => {
    const d = new LogLoopDetector(CTX);
    const states: boolean[] = [];
    for (let i = 0; i < 25; i++) {
      d.push(text(i, 'INFO', replacedMsg(PEER, v1134, v1134)));
      states.push(d.failed());
    }
    expect(states.indexOf(true)).to.equal(LOOP_MIN_REPEATS - 1);
    expect(d.linesRead).to.equal(25);
  });

  it('gives the same findings whether lines are pushed one by one or scanned at once', () => {
    const lines = [
      text(0, 'INFO', 'Initializing new raft state at ./storage/raft_state.json'),
      ...times(30, (i) => ansi(i + 1, 'INFO', replacedMsg(PEER, v1134, v1134))),
      json(40, 'WARN', `Replaced address of peer ${PEER} from http://a:6335/ to http://b:6335/`),
    ];
    const d = new LogLoopDetector(CTX);
    for (const l of lines) d.push(l);
    expect(d.findings()).to.deep.equal(scanLogLines(lines, CTX));
  });

  it('splits log text into lines, CRLF tolerated', () => {
    const lines = splitLogText(`${ISSUE_LINE}\r\n${ISSUE_LINE}\n`);
    expect(lines).to.have.length(2);
    expect(parseLogLine(lines[0]!)!.message).to.equal(parseLogLine(ISSUE_LINE)!.message);
  });
});

describe('policy/log-loop: parsing the three log formats', () => {
  const msg = replacedMsg(PEER, v1134, v1134);
  const parsed: ParsedLogLine = { timestamp: ts(2), timeMs: Date.parse(ts(2)), level: 'INFO', target: TARGET, message: msg };
  const table: [string, string, ParsedLogLine | undefined][] = [
    ['tracing text', text(2, 'INFO', msg), parsed],
    ['tracing text with ANSI colours', ansi(2, 'INFO', msg), parsed],
    ['a JSON line', json(2, 'INFO', msg), parsed],
    ['the issue line (no timestamp)', ISSUE_LINE, { level: 'INFO', target: TARGET, message: msg }],
    ['a bare message', msg, { message: msg }],
    ['a JSON line with a u64 field', `{"level":"INFO","fields":{"message":"x","peer":18446744073709551615}}`, { level: 'INFO', message: 'x' }],
    ['a blank line', '  ', undefined],
  ];
  for (const [name, line, expected] of table) {
    it(`reads ${name}`, () => expect(parseLogLine(line)).to.deep.equal(expected));
  }

  it('keeps a peer id above 2^53 as its exact digits', () => {
    expect(parseMetadataReplacement(replacedMsg('18446744073709551615', v1134, v1135))).to.deep.equal({
      peerId: '18446744073709551615',
      from: '1.13.4',
      to: '1.13.5',
    });
  });
});

describe('policy/log-loop: findingsToChecks', () => {
  const scan = (lines: string[], ctx: Partial<LogContext> = {}) => findingsToChecks(scanLogLines(lines, { ...CTX, ...ctx }), 'qdrant-0');
  const LOOP_EXPECTED = 'fewer than 20 replayed "Replaced metadata" lines in 300 s';
  const ID_EXPECTED = '"Loading raft state from" on a volume that held a state';
  const table: { name: string; lines: string[]; ctx?: Partial<LogContext>; expected: Check[] }[] = [
    {
      name: 'a healthy start: state loaded, one metadata change, no loop',
      lines: [text(0, 'INFO', 'Loading raft state from ./storage/raft_state.json'), text(1, 'INFO', replacedMsg(PEER, v1134, v1135))],
      expected: [
        { id: 'peer.identity-lost', status: 'pass', subject: 'qdrant-0', observed: 'loaded its raft state from ./storage/raft_state.json', expected: ID_EXPECTED, remedy: '' },
        {
          id: 'peer.log-loop',
          status: 'pass',
          subject: 'qdrant-0',
          observed: 'no replay loop: 1 peer metadata update(s) (1.13.4 -> 1.13.5) for 1 peer(s): normal, one per upgraded peer',
          expected: LOOP_EXPECTED,
          remedy: '',
        },
      ],
    },
    {
      name: 'the incident: a new state on a used volume and the replay loop both fail with the restore remedy',
      lines: [text(0, 'INFO', 'Initializing new raft state at ./storage/raft_state.json'), ...times(20, () => ISSUE_LINE)],
      expected: [
        {
          id: 'peer.identity-lost',
          status: 'fail',
          subject: 'qdrant-0',
          observed:
            'qdrant-0 logged "Initializing new raft state at ./storage/raft_state.json" on a volume that held a raft state before the upgrade: raft_state.json was lost and a new peer id is being minted (qdrant/qdrant#6229)',
          expected: ID_EXPECTED,
          remedy: RESTORE,
        },
        {
          id: 'peer.log-loop',
          status: 'fail',
          subject: 'qdrant-0',
          observed: `qdrant-0 is replaying its consensus log under a new identity (20 ${LOOP_QUOTE} lines): raft_state.json was lost (qdrant/qdrant#6229)`,
          expected: LOOP_EXPECTED,
          remedy: RESTORE,
        },
      ],
    },
    {
      name: 'no startup line read: identity from the log is skipped with the reason; a few replays and an address note pass',
      lines: [...times(3, () => ISSUE_LINE), `WARN ${TARGET}: Replaced address of peer ${PEER} from http://a:6335/ to http://b:6335/`],
      expected: [
        {
          id: 'peer.identity-lost',
          status: 'skip',
          subject: 'qdrant-0',
          observed: 'neither "Loading raft state" nor "Initializing new raft state" in the log lines read (the start of the log may be older than what was read)',
          expected: ID_EXPECTED,
          remedy: '',
        },
        {
          id: 'peer.log-loop',
          status: 'pass',
          subject: 'qdrant-0',
          observed: `no replay loop: 3 replayed ${LOOP_QUOTE} line(s), below the loop threshold of 20 in 300 s`,
          expected: LOOP_EXPECTED,
          remedy: '',
        },
        {
          id: 'peer.address-change',
          status: 'pass',
          subject: 'qdrant-0',
          observed: `note: 1 "Replaced address of peer" line(s): peer ${PEER} http://a:6335/ -> http://b:6335/`,
          expected: 'peer addresses stable',
          remedy: 'Usually a pod that came back with a new IP. If a peer id moved to the URI of another pod, compare GET /cluster with the record (cluster.membership).',
        },
      ],
    },
    {
      name: 'a fresh volume starting a new state passes; no metadata lines at all is said so',
      lines: [text(0, 'INFO', 'Initializing new raft state at ./storage/raft_state.json')],
      ctx: { recordedInitialized: false },
      expected: [
        {
          id: 'peer.identity-lost',
          status: 'pass',
          subject: 'qdrant-0',
          observed: 'new raft state at ./storage/raft_state.json on a volume that held none before: expected for a new peer',
          expected: ID_EXPECTED,
          remedy: '',
        },
        { id: 'peer.log-loop', status: 'pass', subject: 'qdrant-0', observed: 'no "Replaced metadata" lines', expected: LOOP_EXPECTED, remedy: '' },
      ],
    },
  ];
  for (const row of table) {
    it(row.name, () => expect(scan(row.lines, row.ctx)).to.deep.equal(row.expected));
  }
});
