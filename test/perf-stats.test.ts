import { expect } from 'chai';
import { formatTable, median, positiveInteger } from '../perf/stats.js';

describe('perf/stats', () => {
  describe('median', () => {
    it('returns the single element of a one-element list', () => {
      expect(median([7])).to.equal(7);
    });

    it('returns the middle element of an odd-length list, whatever the order', () => {
      expect(median([5, 1, 3])).to.equal(3);
      expect(median([9, 2, 7, 4, 100])).to.equal(7);
    });

    it('returns the mean of the two middle elements of an even-length list', () => {
      expect(median([1, 2, 3, 4])).to.equal(2.5);
      expect(median([10, 0])).to.equal(5);
    });

    it('sorts numerically, not as strings', () => {
      expect(median([10, 9, 100])).to.equal(10);
    });

    it('does not reorder the caller\'s array', () => {
      const xs = [3, 1, 2];
      median(xs);
      expect(xs).to.deep.equal([3, 1, 2]);
    });

    it('handles negative numbers and duplicates', () => {
      expect(median([-5, -1, -3])).to.equal(-3);
      expect(median([2, 2, 2, 9])).to.equal(2);
    });

    it('throws on an empty list', () => {
      expect(() => median([])).to.throw(/empty/);
    });
  });

  describe('formatTable', () => {
    it('aligns columns under the headers with a dashed rule', () => {
      const out = formatTable(['engine', 'ms'], [
        ['ours', 1234],
        ['v86', 5],
      ]);
      expect(out.split('\n')).to.deep.equal([
        'engine  ms',
        '------  ----',
        'ours    1234',
        'v86        5',
      ]);
    });

    it('right-aligns numbers, left-aligns text, and prints non-integers with 2 decimals', () => {
      const out = formatTable(['name', 'value'], [
        ['a', 1.5],
        ['bbbb', 'text'],
        ['c', 12.3456],
      ]);
      expect(out.split('\n')).to.deep.equal([
        'name  value',
        '----  -----',
        'a      1.50',
        'bbbb  text',
        'c     12.35',
      ]);
    });

    it('widens a column to its longest cell, header included', () => {
      const lines = formatTable(['a-long-header', 'b'], [['x', 'yyyyyy']]).split('\n');
      expect(lines[0]).to.equal('a-long-header  b');
      expect(lines[1]).to.equal('-------------  ------');
      expect(lines[2]).to.equal('x              yyyyyy');
    });

    it('pads short rows with empty cells and leaves no trailing spaces', () => {
      const out = formatTable(['a', 'b', 'c'], [['1'], ['22', '333', '4']]);
      const lines = out.split('\n');
      expect(lines).to.have.length(4);
      expect(lines[2]).to.equal('1');
      expect(lines[3]).to.equal('22  333  4');
      for (const line of lines) expect(line).to.equal(line.trimEnd());
    });

    it('prints only the header and the rule when there are no rows', () => {
      expect(formatTable(['x', 'yy'], [])).to.equal('x  yy\n-  --');
    });

    it('prints non-finite numbers as words', () => {
      const out = formatTable(['v'], [[Infinity], [NaN]]);
      expect(out.split('\n').slice(2)).to.deep.equal(['Infinity', '     NaN']);
    });
  });

  describe('positiveInteger', () => {
    it('reads a positive integer', () => {
      expect(positiveInteger('--runs', '3')).to.equal(3);
    });

    it('names the option when the text is not a positive integer', () => {
      for (const bad of ['0', '-1', '2.5', 'x', '']) expect(() => positiveInteger('--runs', bad)).to.throw(/^--runs .*expected a positive integer/);
    });
  });
});
