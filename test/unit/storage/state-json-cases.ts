/**
 * raft_state.json variants and whether Qdrant loads them (serde_json into its Persistent struct). Shared by the
 * table test (state-json.test.ts) and by scripts that replay the cases against a real Qdrant binary.
 * `qdrant`: what the real binary did with the case (see the test file's header), or undefined when not run.
 */

export interface StateCase {
  name: string;
  text: string | Buffer;
  /** Whether Qdrant loads it (and so whether the guard must accept it). */
  loads: boolean;
}

export const PEER = '3134814695916598';
const ADDR = '"http://qdrant-0.qdrant-headless:6335/"';
const HARD = '{"term":7,"vote":3134814695916598,"commit":1342}';
const CONF = '{"voters":[3134814695916598],"learners":[],"voters_outgoing":[],"learners_next":[],"auto_leave":false}';

/** A valid 1.13 state, each top-level value replaceable ('OMIT' drops the key); `extra` appends raw members. */
export function state(over: Record<string, string> = {}, extra = ''): string {
  const parts: Record<string, string> = {
    state: `{"hard_state":${HARD},"conf_state":${CONF}}`,
    latest_snapshot_meta: '{"term":0,"index":0}',
    apply_progress_queue: '[1343,1342]',
    first_voter: PEER,
    peer_address_by_id: `{"${PEER}":${ADDR}}`,
    peer_metadata_by_id: `{"${PEER}":{"version":"1.13.4"}}`,
    this_peer_id: PEER,
    ...over,
  };
  const members = Object.entries(parts)
    .filter(([, v]) => v !== 'OMIT')
    .map(([k, v]) => `"${k}":${v}`);
  return '{' + members.join(',') + extra + '}';
}

const nested = (n: number, inner = '1') => '['.repeat(n) + inner + ']'.repeat(n);

export const STATE_CASES: StateCase[] = [
  { name: 'the base state', text: state(), loads: true },
  // Duplicate struct fields: serde's derive refuses them, even with the same value.
  { name: 'this_peer_id given twice with the same value', text: state({}, `,"this_peer_id":${PEER}`), loads: false },
  { name: 'hard_state.term given twice', text: state({ state: `{"hard_state":{"term":7,"term":7,"vote":0,"commit":1342},"conf_state":${CONF}}` }), loads: false },
  { name: 'peer metadata version given twice', text: state({ peer_metadata_by_id: `{"${PEER}":{"version":"1.13.4","version":"1.13.4"}}` }), loads: false },
  // Addresses are http::Uri.
  { name: 'an address with a space', text: state({ peer_address_by_id: `{"${PEER}":"http://qdrant 0:6335/"}` }), loads: false },
  { name: 'an empty address', text: state({ peer_address_by_id: `{"${PEER}":""}` }), loads: false },
  { name: 'an address with two ports', text: state({ peer_address_by_id: `{"${PEER}":"http://qdrant-0:6335:1/"}` }), loads: false },
  { name: 'an address with an unclosed IPv6 bracket', text: state({ peer_address_by_id: `{"${PEER}":"http://[::1:6335/"}` }), loads: false },
  { name: 'an address with % in the host', text: state({ peer_address_by_id: `{"${PEER}":"http://qdrant%30:6335/"}` }), loads: false },
  { name: 'a path-only address', text: state({ peer_address_by_id: `{"${PEER}":"/just/a/path"}` }), loads: true },
  { name: 'an address of a host alone', text: state({ peer_address_by_id: `{"${PEER}":"qdrant-0:6335"}` }), loads: true },
  { name: 'an address with a user and a fragment', text: state({ peer_address_by_id: `{"${PEER}":"http://u:p@qdrant-0:6335/x?y=1#frag ment"}` }), loads: true },
  // Versions are semver::Version.
  { name: 'a version without a patch number', text: state({ peer_metadata_by_id: `{"${PEER}":{"version":"1.13"}}` }), loads: false },
  { name: 'a version with a leading v', text: state({ peer_metadata_by_id: `{"${PEER}":{"version":"v1.13.4"}}` }), loads: false },
  { name: 'a version with a leading zero', text: state({ peer_metadata_by_id: `{"${PEER}":{"version":"1.013.4"}}` }), loads: false },
  { name: 'a version with an empty pre-release', text: state({ peer_metadata_by_id: `{"${PEER}":{"version":"1.13.4-"}}` }), loads: false },
  { name: 'a version with pre-release and build', text: state({ peer_metadata_by_id: `{"${PEER}":{"version":"1.13.4-rc.1+build.5"}}` }), loads: true },
  // Strings: serde_json's String rules, but only where a String is read.
  { name: 'a lone surrogate in an address', text: state({ peer_address_by_id: `{"${PEER}":"http://q\\ud800/"}` }), loads: false },
  { name: 'a lone surrogate in a top-level key', text: state({}, ',"\\udc00":1'), loads: false },
  { name: 'a lone surrogate inside an unknown key\'s value', text: state({}, ',"future":"\\ud800"'), loads: true },
  { name: 'a surrogate pair in an unknown key', text: state({}, ',"f\\ud83d\\ude00":1'), loads: true },
  { name: 'invalid UTF-8 inside an unknown key\'s value', text: Buffer.concat([Buffer.from(state({}, ',"future":"').slice(0, -1)), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]), loads: true },
  { name: 'a raw control character in an unknown key\'s value', text: state({}, ',"future":"a\u0001b"'), loads: false },
  { name: 'an escaped field name', text: state({ this_peer_id: 'OMIT' }, `,"this_peer_\\u0069d":${PEER}`), loads: true },
  // Peer-map keys: the digits of a u64 directly inside the quotes.
  { name: 'an escaped digit in a peer-map key', text: state({ peer_address_by_id: `{"\\u0033134814695916598":${ADDR}}` }), loads: false },
  { name: 'a peer-map key with a leading zero', text: state({ peer_address_by_id: `{"0${PEER}":${ADDR}}` }), loads: false },
  { name: 'a peer-map key with a space', text: state({ peer_address_by_id: `{"${PEER} ":${ADDR}}` }), loads: false },
  { name: 'a negative peer-map key', text: state({ peer_address_by_id: `{"-1":${ADDR}}` }), loads: false },
  { name: 'a peer-map key above u64::MAX', text: state({ peer_address_by_id: `{"18446744073709551616":${ADDR}}` }), loads: false },
  { name: 'a peer-map key of u64::MAX', text: state({ peer_address_by_id: `{"18446744073709551615":${ADDR},"${PEER}":${ADDR}}` }), loads: true },
  // Maps keep the last of duplicate keys.
  { name: 'a duplicate peer address key (last wins)', text: state({ peer_address_by_id: `{"${PEER}":"http://old:6335/","${PEER}":${ADDR}}` }), loads: true },
  { name: 'a duplicate key whose first address is not a URI', text: state({ peer_address_by_id: `{"${PEER}":"not a uri","${PEER}":${ADDR}}` }), loads: true },
  { name: 'a duplicate key whose last address is not a URI', text: state({ peer_address_by_id: `{"${PEER}":${ADDR},"${PEER}":"not a uri"}` }), loads: false },
  { name: 'a duplicate key whose first version is not semver', text: state({ peer_metadata_by_id: `{"${PEER}":{"version":"x"},"${PEER}":{"version":"1.13.4"}}` }), loads: false },
  { name: 'a duplicate cluster_metadata key', text: state({ cluster_metadata: '{"a":1,"a":2}' }), loads: true },
  // Options and newtypes.
  { name: 'first_voter null', text: state({ first_voter: 'null' }), loads: true },
  { name: 'apply_progress_queue null', text: state({ apply_progress_queue: 'null' }), loads: true },
  { name: 'apply_progress_queue of three', text: state({ apply_progress_queue: '[1,2,3]' }), loads: false },
  { name: 'peer_metadata_by_id null', text: state({ peer_metadata_by_id: 'null' }), loads: false },
  { name: 'cluster_metadata null', text: state({ cluster_metadata: 'null' }), loads: false },
  // Structs may be arrays of their fields.
  { name: 'hard_state as an array', text: state({ state: `{"hard_state":[7,3134814695916598,1342],"conf_state":${CONF}}` }), loads: true },
  { name: 'hard_state as an array of two', text: state({ state: `{"hard_state":[7,3134814695916598],"conf_state":${CONF}}` }), loads: false },
  { name: 'hard_state as an array of four', text: state({ state: `{"hard_state":[7,3134814695916598,1342,1],"conf_state":${CONF}}` }), loads: false },
  // cluster_metadata values are serde_json::Value: 128 levels counting the root and the map.
  { name: 'cluster_metadata nested 125 deep', text: state({ cluster_metadata: `{"k":${nested(125)}}` }), loads: true },
  { name: 'cluster_metadata nested 126 deep', text: state({ cluster_metadata: `{"k":${nested(126)}}` }), loads: false },
  { name: 'a number out of f64 range in cluster_metadata', text: state({ cluster_metadata: '{"k":1e400}' }), loads: false },
  { name: 'a number out of f64 range in an unknown key', text: state({}, ',"future":1e400'), loads: true },
  { name: 'a lone surrogate in cluster_metadata', text: state({ cluster_metadata: '{"k":"\\ud800"}' }), loads: false },
  // Unknown keys are skipped without a depth limit.
  { name: 'an unknown key nested 100,000 deep', text: state({}, `,"future":${nested(100_000)}`), loads: true },
  { name: 'an unknown key nested 100,000 deep, unbalanced', text: state({}, `,"future":${'['.repeat(100_000)}`), loads: false },
  // Whole-file syntax.
  { name: 'only non-breaking spaces', text: Buffer.from('\u00a0\u00a0\u00a0'), loads: false },
  { name: 'a trailing comma', text: state({}, ','), loads: false },
  { name: 'a form feed after the value', text: state() + '\f', loads: false },
  { name: 'whitespace after the value', text: state() + ' \r\n\t', loads: true },
  { name: 'two values', text: state() + state(), loads: false },
];
