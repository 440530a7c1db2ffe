import { expect } from 'chai';
import { describeFailure, formatReport, runConformance } from './conformance/sst-80286.js';

describe('SingleStepTests 80286 real-mode conformance', function () {
  this.timeout(600_000);

  it('matches the real 80286 on every vector that applies to an i686', () => {
    // A missing vector folder throws here, so the test fails (CI has the folder) instead of skipping.
    const report = runConformance();
    // The per-file table of every file is `npm run conformance`; here only files with failures.
    for (const line of formatReport(report, 'failing')) console.log(`    ${line}`);
    const first = report.failures.slice(0, 5).map((f) => `\n  ${describeFailure(f)}`).join('');
    expect(report.failed, `${report.failed} of ${report.passed + report.failed} vectors failed; first:${first}`).to.equal(0);
  });
});
