import { expect } from 'chai';
import {
  compareVersionTexts,
  normalizeVersionText,
  parseVersion,
  QDRANT_VERSION_FACTS,
  readVersion,
  versionAtLeast,
  versionWithin,
} from '../../../hook/policy/version.js';

describe('the one version parser and the table of Qdrant version facts', () => {
  it('reads what GET / and image tags say, and nothing else', () => {
    expect(readVersion('1.13.5')?.version).to.equal('1.13.5');
    expect(readVersion(' v1.16.3-unprivileged ')?.version).to.equal('1.16.3-unprivileged');
    for (const bad of ['latest', '1.13', 'vv1.13.5', '', undefined]) expect(readVersion(bad), String(bad)).to.equal(undefined);
    // parseVersion is the same reading, with a usage error where readVersion says undefined.
    expect(parseVersion('v1.13.4').version).to.equal(readVersion('v1.13.4')!.version);
    expect(() => parseVersion('latest')).to.throw(/is not a semver version/);
  });

  it('compares release cores: an image label is the same release', () => {
    expect(versionAtLeast('1.16.0-gpu-nvidia', QDRANT_VERSION_FACTS.peerMetadataApiSince)).to.equal(true);
    expect(versionAtLeast('v1.15.9', QDRANT_VERSION_FACTS.peerMetadataApiSince)).to.equal(false);
    expect(versionAtLeast('not a version', '1.0.0')).to.equal(false);
  });

  it('places the single-peer stale-metadata range at [1.13.3, 1.15.0)', () => {
    const r = QDRANT_VERSION_FACTS.staleSelfMetadata;
    expect(['1.13.2', '1.13.3', '1.14.9', '1.15.0'].map((v) => versionWithin(v, r))).to.deep.equal([false, true, true, false]);
  });

  it('orders version texts by semver where both read as versions, else as text', () => {
    expect(['1.13.10', 'v1.13.9', '1.13.9-unprivileged'].map(normalizeVersionText).sort(compareVersionTexts)).to.deep.equal([
      '1.13.9-unprivileged',
      '1.13.9',
      '1.13.10',
    ]);
    expect(['b', 'a'].sort(compareVersionTexts)).to.deep.equal(['a', 'b']);
  });
});
