import { expect } from 'chai';
import { BY_OPCODE, OPCODES } from '../core/decoder/table.js';
import { unimplementedEntries } from '../core/cpu/interpreter.js';

describe('opcode table', () => {
  it('parses into entries with operands and attributes', () => {
    const add = BY_OPCODE[0x00];
    expect(add).to.not.be.an('array');
    expect((add as { mnemonic16: string }).mnemonic16).to.equal('ADD');
    expect(OPCODES.length).to.be.greaterThan(400);
  });

  it('covers the group members of 0x80-0x83, F6, F7, FE, FF', () => {
    for (const op of [0x80, 0x81, 0x82, 0x83, 0xf6, 0xf7]) {
      const members = BY_OPCODE[op];
      expect(members, op.toString(16)).to.be.an('array');
      expect((members as unknown[]).filter(Boolean)).to.have.length(8);
    }
  });

  it('has an executor for every entry: semantics exist for the whole table', () => {
    expect(unimplementedEntries().map((e) => e.source)).to.deep.equal([]);
  });
});
