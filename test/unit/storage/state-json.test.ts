/**
 * Each case of state-json-cases.ts is judged as Qdrant judges it: `parseRaftStateJson` accepts exactly the files
 * Qdrant's loader (serde_json into Persistent) loads. The expectations come from reading Qdrant's source at the
 * tags the chart supports and the crates it locks (serde_json 1.0.138-1.0.151, http 0.2, semver 1.0).
 *
 * Replayed against the real binary (test/unit/storage/replay-state-cases.ts: one peer, cluster mode, loopback):
 * Qdrant 1.13.5 and 1.16.3 each agreed on all 55 cases of state-json-cases.ts, among them: duplicate struct fields refused
 * ("duplicate field `term`"), invalid URIs and versions refused, a lone surrogate refused in an address and a
 * top-level key but loaded inside an unknown key, invalid UTF-8 loaded inside an unknown key, escaped digits in a
 * peer-map key refused ("expected key to be a number in quotes"), a duplicate map key keeping the last value (an
 * invalid first address loads, an invalid first version does not), `first_voter: null` loaded, a struct written
 * as an array loaded, cluster_metadata nested 125 deep loaded and 126 deep refused ("recursion limit exceeded"),
 * 1e400 refused in cluster_metadata and loaded in an unknown key, 100,000 levels in an unknown key loaded, a file
 * of non-breaking spaces refused ("expected value").
 */
import { expect } from 'chai';
import { parseRaftStateJson } from '../../../hook/storage/raft-state.js';
import { deserializeStateJson } from '../../../hook/storage/state-json.js';
import { semverProblem, uriProblem } from '../../../hook/storage/qdrant-types.js';
import { PEER, STATE_CASES, state } from './state-json-cases.js';

describe('raft_state.json judged as Qdrant (serde_json into Persistent) judges it', () => {
  for (const c of STATE_CASES) {
    it(`${c.loads ? 'accepts' : 'refuses'} ${c.name}`, () => {
      const out = parseRaftStateJson(Buffer.from(c.text));
      expect(out.ok, out.ok ? 'accepted' : `${out.problem.code}: ${out.problem.message}`).to.equal(c.loads);
    });
  }

  it('calls a file of non-breaking spaces invalid JSON, not empty', () => {
    const out = parseRaftStateJson(Buffer.from('\u00a0\u00a0'));
    expect(!out.ok && out.problem.code).to.equal('syntax');
  });

  it('keeps the last of duplicate peer addresses, as a HashMap does', () => {
    const out = parseRaftStateJson(Buffer.from(state({ peer_address_by_id: `{"${PEER}":"http://old:6335/","${PEER}":"http://new:6335/"}` })));
    expect(out.ok && out.state.peerAddressById).to.deep.equal({ [PEER]: 'http://new:6335/' });
  });

  it('reads a struct written as an array of its fields', () => {
    const out = parseRaftStateJson(Buffer.from(state({ state: `[[7,${PEER},1342],[[${PEER}],[],[],[],false]]` })));
    expect(out.ok && out.state.hardState).to.deep.equal({ term: '7', vote: PEER, commit: '1342' });
  });

  it('names the duplicate field', () => {
    const out = parseRaftStateJson(Buffer.from(state({}, `,"this_peer_id":${PEER}`)));
    expect(!out.ok && out.problem.message).to.contain('this_peer_id: duplicate field `this_peer_id`');
  });

  it('names the recursion limit', () => {
    const out = parseRaftStateJson(Buffer.from(state({ cluster_metadata: `{"k":${'['.repeat(126)}${']'.repeat(126)}}` })));
    expect(!out.ok && out.problem.message).to.contain('recursion limit exceeded');
  });

  it('does not depend on the stack: a million levels in an unknown key (a recursive parser overflows near 10,000)', () => {
    const deep = state({}, `,"future":${'{"a":'.repeat(1_000_000)}1${'}'.repeat(1_000_000)}`);
    expect(deserializeStateJson(Buffer.from(deep)).ok).to.equal(true);
  });

  it('keeps u64 ids as text', () => {
    const out = parseRaftStateJson(Buffer.from(state({ this_peer_id: '18446744073709551615', peer_address_by_id: '{"18446744073709551615":"http://a:1/"}' })));
    expect(out.ok && out.state.thisPeerId).to.equal('18446744073709551615');
    expect(out.ok && Object.keys(out.state.peerAddressById)).to.deep.equal(['18446744073709551615']);
  });

  describe('http::Uri (http 0.2) and semver::Version rules', () => {
    const uris: [string, boolean][] = [
      ['http://qdrant-0.qdrant-headless:6335/', true],
      ['https://10.0.0.1:6335', true],
      ['HTTP://Q:1/', true],
      ['grpc+tls://q:1/', true],
      ['http://[fe80::1]:6335/', true],
      ['http://[fe80::1%25eth0]:6335/', true],
      ['*', true],
      ['/', true],
      ['a', true],
      ['http:///', false],
      ['http://q:1:2/', false],
      ['http://q/a b', false],
      ['http://q/a?b c', false],
      ['http://q/\u00e9', false],
      ['http://q@/', false],
      ['q/path', false],
      ['', false],
      ['x'.repeat(65535), false],
    ];
    for (const [u, ok] of uris) {
      it(`${ok ? 'accepts' : 'refuses'} the URI ${JSON.stringify(u.length > 30 ? u.slice(0, 30) + '...' : u)}`, () => {
        expect(uriProblem(u), String(uriProblem(u))).to.equal(ok ? undefined : uriProblem(u) ?? 'a problem');
        expect(uriProblem(u) === undefined).to.equal(ok);
      });
    }
    const versions: [string, boolean][] = [
      ['1.13.4', true],
      ['0.0.0', true],
      ['1.2.3-alpha.1', true],
      ['1.2.3-0.a', true],
      ['1.2.3+001', true],
      ['1.2.3-01', false],
      ['1.2.3-a..b', false],
      ['1.2.3+', false],
      ['1.2', false],
      ['1.2.3.4', false],
      [' 1.2.3', false],
      ['18446744073709551616.0.0', false],
    ];
    for (const [v, ok] of versions) {
      it(`${ok ? 'accepts' : 'refuses'} the version ${JSON.stringify(v)}`, () => {
        expect(semverProblem(v) === undefined, String(semverProblem(v))).to.equal(ok);
      });
    }
  });
});
