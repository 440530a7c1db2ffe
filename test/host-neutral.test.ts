import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './support/cli.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** core/, devices/ and the library entry must run in a browser page: no Node modules or globals. */
describe('host-neutral core', () => {
  it('core/, devices/ and index.ts use no Node-only API', () => {
    const files = [...sources(join(ROOT, 'core')), ...sources(join(ROOT, 'devices')), join(ROOT, 'index.ts')];
    const offenders: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const pattern of [/from ['"]node:/, /from ['"](fs|path|os|child_process|util)['"]/, /\bBuffer\./, /\bprocess\./, /\brequire\(/]) {
        if (pattern.test(text)) offenders.push(`${relative(ROOT, file)}: ${pattern}`);
      }
    }
    expect(files.length).to.be.greaterThan(30);
    expect(offenders).to.deep.equal([]);
  });
});
