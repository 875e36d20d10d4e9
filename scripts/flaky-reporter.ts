import fs from 'node:fs';
import type { Reporter, TestCase } from 'vitest/node';

/**
 * On CI each failing test gets one more try (a two-core runner shared with engines and the database now
 * and then loses a race a quiet machine never shows). A test that passes only on its second try is not
 * hidden: it is named here, and listed in test-results/flaky.txt, so the race behind it gets fixed.
 */
export default class FlakyReporter implements Reporter {
  private readonly flaky: string[] = [];
  onTestCaseResult(test: TestCase): void {
    if (test.diagnostic()?.flaky) this.flaky.push(`${test.module.moduleId.replace(process.cwd() + '/', '')} > ${test.fullName}`);
  }

  onTestRunEnd(): void {
    if (this.flaky.length === 0) return;
    console.log(`\nFLAKY (${this.flaky.length}): passed only on a retry\n${this.flaky.map((f) => `  - ${f}`).join('\n')}`);
    fs.mkdirSync('test-results', { recursive: true });
    fs.appendFileSync('test-results/flaky.txt', this.flaky.join('\n') + '\n');
  }
}
