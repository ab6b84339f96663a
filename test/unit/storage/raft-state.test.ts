import { expect } from 'chai';
import { promises as fs, readdirSync } from 'node:fs';
import path from 'node:path';
import { Encoder } from 'cbor-x';
import {
  decodeLegacyRaftState,
  invalidUtf8Offset,
  parseLossless,
  parseRaftStateJson,
  stringifyLossless,
  summarize,
} from '../../../hook/storage/raft-state.js';
import { fixture, fixturesDir, LEGACY_BIGINT, THREE_PEER_0 } from '../helpers/storage.js';

const b = (s: string) => Buffer.from(s);
const VALID = (over: Record<string, string> = {}) => {
  const parts: Record<string, string> = {
    state:
      '{"hard_state":{"term":7,"vote":0,"commit":1342},"conf_state":{"voters":[3134814695916598],"learners":[],"voters_outgoing":[],"learners_next":[],"auto_leave":false}}',
    latest_snapshot_meta: '{"term":0,"index":0}',
    apply_progress_queue: '[1343,1342]',
    peer_address_by_id: '{"3134814695916598":"http://qdrant-0.qdrant-headless:6335/"}',
    peer_metadata_by_id: '{"3134814695916598":{"version":"1.13.4"}}',
    this_peer_id: '3134814695916598',
    ...over,
  };
  return '{' + Object.entries(parts).filter(([, v]) => v !== 'OMIT').map(([k, v]) => `"${k}":${v}`).join(',') + '}';
};
const STATE = (hard: string, conf = '"voters":[1],"learners":[],"voters_outgoing":[],"learners_next":[],"auto_leave":false') =>
  `{"hard_state":${hard},"conf_state":{${conf}}}`;

describe('raft_state.json parsing (docs/qdrant-facts.md#raft-state-file)', () => {
  describe('every public and constructed sample', () => {
    const files = [
      ...readdirSync(path.join(fixturesDir, 'constructed')).filter((f) => f.endsWith('.json')).map((f) => `constructed/${f}`),
      ...readdirSync(path.join(fixturesDir, 'public')).filter((f) => /_(single-node|test-fixture|bootstrap-peer-never-joined)\.json$/.test(f) || f.includes('cluster-1peer')).map((f) => `public/${f}`),
    ];
    it('finds the samples', () => expect(files.length).to.be.greaterThan(10));
    for (const f of files) {
      it(`parses ${f} with this_peer_id exactly as written`, async () => {
        const text = await fs.readFile(fixture(f), 'utf8');
        const r = parseRaftStateJson(Buffer.from(text));
        expect(r.ok, JSON.stringify(!r.ok && r.problem)).to.equal(true);
        const written = /"this_peer_id":\s*(\d+)/.exec(text)![1];
        if (r.ok) expect(r.state.thisPeerId).to.equal(written);
      });
    }
  });

  it('keeps ids above 2^53 and first_voter = u64::MAX exactly (JSON.parse would corrupt them)', async () => {
    const bytes = await fs.readFile(fixture(LEGACY_BIGINT));
    const r = parseRaftStateJson(bytes);
    if (!r.ok) throw new Error(r.problem.message);
    expect(r.state.thisPeerId).to.equal('11532566549086892528');
    expect(r.state.hardState.vote).to.equal('11532566549086892528');
    expect(r.state.confState.voters).to.deep.equal(['11532566549086892528', '9834046559507417430']);
    expect(r.state.firstVoter).to.equal('18446744073709551615');
    expect(Object.keys(r.state.peerAddressById)).to.have.members(['11532566549086892528', '9834046559507417430']);
    expect(String(JSON.parse(bytes.toString()).this_peer_id)).to.not.equal('11532566549086892528');
  });

  it('round-trips a compact file byte for byte, u64::MAX included', async () => {
    const text = (await fs.readFile(fixture(LEGACY_BIGINT), 'utf8')).trimEnd();
    expect(stringifyLossless(parseLossless(text))).to.equal(text);
  });

  it('accepts each format generation and names it', async () => {
    const hint = async (f: string) => {
      const r = parseRaftStateJson(await fs.readFile(fixture(f)));
      return r.ok ? summarize(r.state).formatHint : r.problem.message;
    };
    expect(await hint('public/github-AI-General-ExpertGPT_v1.4-to-1.7_single-node.json')).to.equal('1.4 to 1.7');
    expect(await hint('public/github-AleksanderObuchowski-FaceDetection_v1.8-to-1.12.1_single-node.json')).to.equal('>= 1.8');
    expect(await hint(THREE_PEER_0)).to.equal('>= 1.12.2');
    const withMeta = VALID({ cluster_metadata: '{"resharding":{"x":1}}' });
    const r = parseRaftStateJson(b(withMeta));
    expect(r.ok && summarize(r.state).formatHint).to.equal('>= 1.11');
  });

  it('accepts pretty-printed JSON with a trailing newline', () => {
    const pretty = JSON.stringify(JSON.parse(VALID()), null, 4) + '\n';
    expect(parseRaftStateJson(b(pretty)).ok).to.equal(true);
  });

  it('accepts unknown keys and reports them', () => {
    const r = parseRaftStateJson(b(VALID({ some_future_key: '{"a":[1,2]}' })));
    expect(r.ok && r.state.unknownKeys).to.deep.equal(['some_future_key']);
  });

  it('accepts a bootstrap peer that never joined (voters: [])', async () => {
    const r = parseRaftStateJson(await fs.readFile(fixture('public/github-veristamp-AgentGovernor-node2_v1.8plus_bootstrap-peer-never-joined.json')));
    expect(r.ok && r.state.confState.voters).to.deep.equal([]);
  });

  describe('refuses with the key, the type found and the type expected', () => {
    const rows: Array<{ name: string; text: string; code: string; message: string }> = [
      { name: 'a string term', text: VALID({ state: STATE('{"term":"7","vote":0,"commit":1}') }), code: 'schema',
        message: 'state.hard_state.term: expected an unsigned 64-bit integer (JSON number), found string "7"' },
      { name: 'a negative id', text: VALID({ this_peer_id: '-5' }), code: 'schema',
        message: 'this_peer_id: expected an unsigned 64-bit integer, found number -5, which is negative' },
      { name: 'a fractional id', text: VALID({ this_peer_id: '3134814695916598.5' }), code: 'schema',
        message: 'this_peer_id: expected an unsigned 64-bit integer, found number 3134814695916598.5, which is not an integer (fraction or exponent)' },
      { name: 'an exponent id', text: VALID({ this_peer_id: '1e3' }), code: 'schema', message: 'which is not an integer' },
      { name: 'an id above u64::MAX', text: VALID({ this_peer_id: '18446744073709551616' }), code: 'schema',
        message: 'this_peer_id: expected an unsigned 64-bit integer, found number 18446744073709551616, which exceeds u64::MAX 18446744073709551615' },
      { name: 'a voter above u64::MAX', text: VALID({ state: STATE('{"term":1,"vote":0,"commit":1}', '"voters":[99999999999999999999],"learners":[],"voters_outgoing":[],"learners_next":[],"auto_leave":false') }),
        code: 'schema', message: 'state.conf_state.voters[0]: expected an unsigned 64-bit integer' },
      { name: 'a map key that is not a peer id', text: VALID({ peer_address_by_id: '{"abc":"http://x:6335/"}' }), code: 'schema',
        message: 'peer_address_by_id: expected map keys that are u64 peer ids, found key "abc"' },
      { name: 'a missing this_peer_id', text: VALID({ this_peer_id: 'OMIT' }), code: 'schema',
        message: 'this_peer_id: expected an unsigned 64-bit integer (JSON number), found nothing (key missing)' },
      { name: 'a missing peer_address_by_id', text: VALID({ peer_address_by_id: 'OMIT' }), code: 'schema',
        message: 'peer_address_by_id: expected an object, found nothing (key missing)' },
      { name: 'a missing conf_state key', text: VALID({ state: STATE('{"term":1,"vote":0,"commit":1}', '"voters":[1],"learners":[],"voters_outgoing":[],"learners_next":[]') }),
        code: 'schema', message: 'state.conf_state.auto_leave: expected a boolean, found nothing (key missing)' },
      { name: 'a missing state', text: VALID({ state: 'OMIT' }), code: 'schema', message: 'state: expected an object, found nothing (key missing)' },
      // serde reads a struct from an array of its fields too: the first element must then be the state.
      { name: 'an array at the root', text: '[1,2]', code: 'schema', message: 'state: expected an object, found number 1' },
      { name: 'a string at the root', text: '"x"', code: 'schema', message: '(root): expected an object, found string "x"' },
      { name: 'a malformed apply_progress_queue', text: VALID({ apply_progress_queue: '[1]' }), code: 'schema',
        message: 'apply_progress_queue: expected null or a pair [current, last] of u64, found array of 1' },
      { name: 'a peer version that is a number', text: VALID({ peer_metadata_by_id: '{"3134814695916598":{"version":1.13}}' }), code: 'schema',
        message: 'peer_metadata_by_id.3134814695916598.version: expected a string, found number 1.13' },
      { name: 'truncated JSON', text: VALID().slice(0, 120), code: 'syntax', message: 'is not valid JSON' },
      { name: 'trailing garbage', text: VALID() + 'x', code: 'syntax', message: 'is not valid JSON' },
      { name: 'a 0-byte file', text: '', code: 'empty', message: 'is empty (0 bytes)' },
      { name: 'a whitespace-only file', text: ' \n\t\n', code: 'empty', message: 'holds only whitespace (4 bytes)' },
    ];
    for (const r of rows) {
      it(`refuses ${r.name}`, () => {
        const out = parseRaftStateJson(b(r.text));
        expect(out.ok).to.equal(false);
        if (out.ok) return;
        expect(out.problem.code).to.equal(r.code);
        expect(out.problem.file).to.equal('raft_state.json');
        expect(out.problem.message).to.contain(r.message);
      });
    }

    it('lists every error, not just the first', () => {
      const out = parseRaftStateJson(b(VALID({ this_peer_id: '"x"', state: STATE('{"term":"1","vote":-1,"commit":1}') })));
      expect(!out.ok && out.problem.errors).to.have.length(3);
      expect(!out.ok && out.problem.message).to.contain('(and 2 more)');
    });

    it('refuses a byte order mark, as Qdrant (serde_json) does', () => {
      const out = parseRaftStateJson(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b(VALID())]));
      expect(!out.ok && out.problem.code).to.equal('bom');
    });

    it('refuses invalid UTF-8 and says where', () => {
      const text = b(VALID());
      const at = text.indexOf('http');
      const bad = Buffer.concat([text.subarray(0, at), Buffer.from([0xc3, 0x28]), text.subarray(at)]);
      const out = parseRaftStateJson(bad);
      expect(!out.ok && out.problem.code).to.equal('invalid-utf8');
      expect(!out.ok && out.problem.message).to.contain(`byte 0xc3 at offset ${at}`);
    });
  });

  it('finds the first invalid UTF-8 byte (overlong, surrogate, truncated sequence)', () => {
    expect(invalidUtf8Offset(Buffer.from('héllo ✓ 𝄞'))).to.equal(-1);
    expect(invalidUtf8Offset(Buffer.from([0x41, 0xc0, 0x80]))).to.equal(1);
    expect(invalidUtf8Offset(Buffer.from([0xed, 0xa0, 0x80]))).to.equal(0);
    expect(invalidUtf8Offset(Buffer.from([0x41, 0x42, 0xe2, 0x9c]))).to.equal(2);
  });

  describe('legacy CBOR raft_state (<= 1.3)', () => {
    const enc = new Encoder({ useRecords: false, mapsAsObjects: true });
    const legacy = {
      state: {
        hard_state: { term: 3, vote: 11532566549086892528n, commit: 40 },
        conf_state: { voters: [11532566549086892528n], learners: [], voters_outgoing: [], learners_next: [], auto_leave: false },
      },
      latest_snapshot_meta: { term: 0, index: 0 },
      apply_progress_queue: null,
      peer_address_by_id: { '11532566549086892528': 'http://qdrant-0:6335/' },
      this_peer_id: 11532566549086892528n,
    };
    it('decodes it with exact u64 ids', () => {
      const r = decodeLegacyRaftState(enc.encode(legacy));
      expect(r.ok).to.equal(true);
      if (r.ok) {
        expect(r.state.format).to.equal('cbor-legacy');
        expect(r.state.thisPeerId).to.equal('11532566549086892528');
        expect(summarize(r.state).formatHint).to.equal('<= 1.3 (legacy CBOR)');
      }
    });
    it('reports CBOR of an unknown layout as decoded but not validated', () => {
      const r = decodeLegacyRaftState(enc.encode({ something: 'else' }));
      expect(r.ok).to.equal(false);
      expect(!r.ok && r.decoded).to.equal(true);
    });
    it('refuses nesting serde_cbor would not read, whatever the stack size (checked before cbor-x recurses)', () => {
      for (const n of [128, 20_000, 1_000_000]) {
        const r = decodeLegacyRaftState(Buffer.concat([Buffer.alloc(n, 0x81), Buffer.from([0x01])]));
        expect(!r.ok && !r.decoded && r.problem.message).to.contain('128 deep or more');
      }
      const r = decodeLegacyRaftState(Buffer.concat([Buffer.alloc(100, 0x81), Buffer.from([0x01])]));
      expect(!r.ok && r.decoded).to.equal(true);
    });
    it('refuses bytes that are not CBOR', () => {
      const r = decodeLegacyRaftState(Buffer.from([0x1c, 0xff, 0xff]));
      expect(!r.ok && !r.decoded && r.problem.code).to.equal('legacy-undecodable');
    });
  });
});
