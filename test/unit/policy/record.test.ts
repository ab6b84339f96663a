import { expect } from 'chai';
import { parseRecord, serializeRecord, type GuardRecord } from '../../../hook/policy/record.js';
import { GuardError } from '../../../hook/errors.js';

const RECORD: GuardRecord = {
  schemaVersion: 1,
  release: 'vectors',
  revision: 7,
  statefulset: 'vectors-qdrant',
  fromVersion: '1.13.4',
  toVersion: '1.13.5',
  createdAt: '2025-03-21T10:15:02.123Z',
  peers: {
    '0': {
      pod: 'vectors-qdrant-0',
      pvc: 'qdrant-storage-vectors-qdrant-0',
      // Above 2^53: a peer created before v1.2 (docs/qdrant-facts.md#peer-ids-are-u64).
      peerId: '11532566549086892528',
      term: '7',
      commit: '18446744073709551615',
      version: '1.13.4',
      archive: 'raft-vectors-qdrant-0-1.13.4-to-1.13.5-20250321T101502Z.tar.gz',
      sha256: 'a'.repeat(64),
      volumeSnapshot: 'vectors-qdrant-0-pre-upgrade',
      classification: 'initialized',
    },
    '1': { pod: 'vectors-qdrant-1', pvc: 'qdrant-storage-vectors-qdrant-1', peerId: null, term: null, commit: null, version: '1.13.4', classification: 'fresh' },
    '10': { pod: 'vectors-qdrant-10', pvc: 'qdrant-storage-vectors-qdrant-10', peerId: '', term: '', commit: '', version: '', classification: 'unknown' },
  },
  verdicts: { preUpgrade: 'pass' },
  stagedRollout: { step: 1, status: 'stopped', failedOrdinal: 0, reason: 'peer.identity failed' },
};

describe('policy/record: the upgrade record round-trips without losing a digit', () => {
  it('parses what it serializes, u64 ids above 2^53 included', () => {
    expect(parseRecord(serializeRecord(RECORD))).to.deep.equal(RECORD);
  });

  it('serializes in a fixed order (ordinals numerically) and ends with a newline', () => {
    const text = serializeRecord(RECORD);
    expect(text.endsWith('}\n')).to.equal(true);
    expect(Object.keys(JSON.parse(text).peers)).to.deep.equal(['0', '1', '10']);
    expect(text).to.contain('"peerId": "11532566549086892528"');
  });

  it('accepts ids written as JSON integers (a hand-edited record) and keeps their exact digits', () => {
    const text = serializeRecord(RECORD).replace('"peerId": "11532566549086892528"', '"peerId": 11532566549086892528');
    expect(parseRecord(text).peers['0']!.peerId).to.equal('11532566549086892528');
  });

  it('ignores unknown keys, so an older guard reads a newer record', () => {
    const tree = JSON.parse(serializeRecord(RECORD));
    tree.futureField = { x: 1 };
    tree.peers['0'].futureField = true;
    expect(parseRecord(JSON.stringify(tree))).to.deep.equal(RECORD);
  });

  it('reads a minimal record: no staged rollout, no verdicts yet', () => {
    const minimal = { ...RECORD, peers: {}, verdicts: {} } as GuardRecord;
    delete minimal.stagedRollout;
    expect(parseRecord(serializeRecord(minimal))).to.deep.equal(minimal);
  });
});

describe('policy/record: refusing a damaged record, every problem at once', () => {
  const mutate = (f: (t: Record<string, any>) => void): string => {
    const tree = JSON.parse(serializeRecord(RECORD));
    f(tree);
    return JSON.stringify(tree);
  };
  const table: [string, string, string[]][] = [
    ['text that is not JSON', '{"schemaVersion": 1,', ['not JSON: ']],
    ['a JSON array', '[]', ['top level: expected an object, found an array']],
    ['another schema version', mutate((t) => (t.schemaVersion = 2)), ['record.schemaVersion: expected 1, found number 2']],
    [
      'an initialized volume without a peer id, and a negative revision',
      mutate((t) => {
        t.peers['0'].peerId = null;
        t.revision = -1;
      }),
      [
        'record.revision: expected a non-negative integer, found number -1',
        'record.peers["0"].peerId: expected a u64 as a decimal string, found null',
      ],
    ],
    ['a peer id above u64', mutate((t) => (t.peers['0'].peerId = '18446744073709551616')), ['record.peers["0"].peerId: expected a u64 as a decimal string, found string "18446744073709551616"']],
    ['a peer id with a fraction', mutate((t) => (t.peers['0'].term = 1.5)), ['record.peers["0"].term: expected a u64 as a decimal string, found number 1.5']],
    ['an unknown classification', mutate((t) => (t.peers['1'].classification = 'maybe')), ['record.peers["1"].classification: expected one of fresh, initialized, missing-state, corrupt-state, unknown, found string "maybe"']],
    ['an ordinal key that is not a number', mutate((t) => (t.peers.x = t.peers['1'])), ['record.peers["x"]: the key must be an ordinal such as "0"']],
    ['a bad sha256', mutate((t) => (t.peers['0'].sha256 = 'XYZ')), ['record.peers["0"].sha256: expected 64 lowercase hex digits, found string "XYZ"']],
    ['a creation time that is not ISO 8601', mutate((t) => (t.createdAt = 'yesterday')), ['record.createdAt: expected an ISO 8601 time such as 2025-03-21T10:15:02Z, found string "yesterday"']],
    ['an unknown verdict', mutate((t) => (t.verdicts.postUpgrade = 'ok')), ['record.verdicts.postUpgrade: expected one of pass, refuse, fail, found string "ok"']],
    [
      'a stopped staged rollout without the failed ordinal, and an unknown status',
      mutate((t) => {
        delete t.stagedRollout.failedOrdinal;
        t.verdicts = 3;
      }),
      ['record.verdicts: expected an object, found number 3', 'record.stagedRollout.failedOrdinal: required when status is "stopped"'],
    ],
    ['a staged status that does not exist', mutate((t) => (t.stagedRollout.status = 'paused')), ['record.stagedRollout.status: expected one of in-progress, stopped, done, found string "paused"']],
  ];
  for (const [name, text, errors] of table) {
    it(`refuses ${name}`, () => {
      let err: unknown;
      try {
        parseRecord(text);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(GuardError);
      const g = err as GuardError;
      expect(g.kind).to.equal('infrastructure');
      expect(g.remedy).to.contain('delete the ConfigMap and run the upgrade again');
      const listed = g.message.replace('the upgrade record (record.json) is invalid: ', '').split('; ');
      if (errors[0] === 'not JSON: ') expect(listed[0]).to.match(/^not JSON: /);
      else expect(listed).to.deep.equal(errors);
    });
  }
});
