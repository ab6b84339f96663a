// Mocha's spec reporter, plus one JSON line of totals appended to $TEST_RESULTS_FILE,
// so scripts/test-all.sh can sum every tier into the single `N passed, N failed` line CI reads.
'use strict';
const fs = require('node:fs');
const Mocha = require('mocha');

class CountingReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    let passed = 0;
    let failed = 0;
    let pending = 0;
    runner.on(Mocha.Runner.constants.EVENT_TEST_PASS, () => passed++);
    runner.on(Mocha.Runner.constants.EVENT_TEST_FAIL, () => failed++);
    runner.on(Mocha.Runner.constants.EVENT_TEST_PENDING, () => pending++);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const file = process.env.TEST_RESULTS_FILE;
      if (!file) return;
      const tier = process.env.TEST_TIER || 'mocha';
      fs.appendFileSync(file, JSON.stringify({ tier, passed, failed, skipped: pending }) + '\n');
    });
  }
}

module.exports = CountingReporter;
