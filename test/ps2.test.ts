import { expect } from 'chai';
import { IoBus } from '../devices/bus/io-bus.js';
import { IrqLine } from '../devices/bus/irq-line.js';
import { Ps2Controller } from '../devices/ps2-controller.js';
import { Ps2Keyboard } from '../devices/ps2-keyboard.js';

const DATA = 0x60;
const STATUS = 0x64;
const COMMAND = 0x64;
const CONTROL_A = 0x92;

const STATUS_OBF = 0x01;
const STATUS_SYSTEM = 0x04;
const STATUS_COMMAND = 0x08;
const STATUS_UNLOCKED = 0x10;
const STATUS_AUX = 0x20;

const CONFIG_KEYBOARD_IRQ = 0x01;
const CONFIG_AUX_IRQ = 0x02;
const CONFIG_KEYBOARD_DISABLED = 0x10;
const CONFIG_TRANSLATE = 0x40;

function setup() {
  const io = new IoBus();
  const irq1 = new IrqLine('irq1');
  const irq12 = new IrqLine('irq12');
  const keyboard = new Ps2Keyboard();
  const controller = new Ps2Controller(io, keyboard, irq1, irq12);
  const irq1Edges: number[] = [];
  irq1.onChange((level) => level && irq1Edges.push(1));
  const a20Changes: boolean[] = [];
  controller.onA20Change((enabled) => a20Changes.push(enabled));
  let resets = 0;
  controller.onResetRequest(() => resets++);

  const command = (byte: number, data?: number): void => {
    io.write8(COMMAND, byte);
    if (data !== undefined) io.write8(DATA, data);
  };
  /** Reads every byte the guest would see by polling the status register. */
  const drain = (): number[] => {
    const bytes: number[] = [];
    while (io.read8(STATUS) & STATUS_OBF) bytes.push(io.read8(DATA));
    return bytes;
  };
  const setConfig = (value: number): void => command(0x60, value);
  const getConfig = (): number => {
    command(0x20);
    return drain()[0];
  };
  return {
    io, irq1, irq12, keyboard, controller, irq1Edges, a20Changes, command, drain, setConfig, getConfig,
    get resets() {
      return resets;
    },
  };
}

/** A keyboard whose bytes reach the guest untranslated, IRQs off, for scan code checks. */
function rawSetup() {
  const machine = setup();
  machine.setConfig(0);
  return machine;
}

describe('Ps2Controller', () => {
  it('claims 0x60, 0x64 and 0x92', () => {
    const { io } = setup();
    expect(io.ownerOf(DATA)).to.equal('8042');
    expect(io.ownerOf(STATUS)).to.equal('8042');
    expect(io.ownerOf(CONTROL_A)).to.equal('8042 port A');
  });

  it('comes up as a BIOS leaves it: empty buffer, system flag, translation and keyboard IRQ on', () => {
    const { io, getConfig } = setup();
    expect(io.read8(STATUS)).to.equal(STATUS_UNLOCKED | STATUS_SYSTEM);
    expect(getConfig()).to.equal(0x45);
  });

  it('passes its self-test and both interface tests', () => {
    const { io, command, drain } = setup();
    command(0xaa);
    expect(io.read8(STATUS) & (STATUS_OBF | STATUS_COMMAND)).to.equal(STATUS_OBF | STATUS_COMMAND);
    expect(drain()).to.deep.equal([0x55]);
    command(0xab);
    expect(drain()).to.deep.equal([0x00]);
    command(0xa9);
    expect(drain()).to.deep.equal([0x00]);
  });

  it('reads and writes the configuration byte and the rest of its RAM', () => {
    const { io, command, drain, setConfig, getConfig } = setup();
    setConfig(0x03);
    expect(io.read8(STATUS) & STATUS_COMMAND).to.equal(0); // the last write went to port 0x60
    expect(getConfig()).to.equal(0x03);
    expect(io.read8(STATUS) & STATUS_SYSTEM).to.equal(0);
    command(0x7f, 0x5a);
    command(0x3f);
    expect(drain()).to.deep.equal([0x5a]);
  });

  it('keeps the port-disable commands in the configuration byte', () => {
    const { command, getConfig, setConfig } = setup();
    setConfig(0);
    command(0xad);
    command(0xa7);
    expect(getConfig()).to.equal(0x30);
    command(0xae);
    expect(getConfig()).to.equal(0x20);
    command(0xa8);
    expect(getConfig()).to.equal(0x00);
  });

  it('reads the input port and reads back the output port with its buffer-full bits', () => {
    const { command, drain, io } = setup();
    command(0xc0);
    expect(drain()).to.deep.equal([0xa0]);
    command(0xd0);
    expect(io.read8(DATA)).to.equal(0xcf);
    command(0xd2, 0x99);
    command(0xd0);
    expect(drain()).to.deep.equal([0x99, 0xcf | 0x10]);
  });

  it('loops bytes back through D2 (keyboard side, IRQ 1) and D3 (aux side, IRQ 12)', () => {
    const { io, command, irq1, irq12, setConfig } = setup();
    setConfig(CONFIG_KEYBOARD_IRQ | CONFIG_AUX_IRQ);
    command(0xd2, 0x12);
    expect(io.read8(STATUS) & (STATUS_OBF | STATUS_AUX)).to.equal(STATUS_OBF);
    expect(irq1.level).to.equal(true);
    expect(io.read8(DATA)).to.equal(0x12);
    expect(irq1.level).to.equal(false);
    command(0xd3, 0x5a);
    expect(io.read8(STATUS) & (STATUS_OBF | STATUS_AUX)).to.equal(STATUS_OBF | STATUS_AUX);
    expect(irq12.level).to.equal(true);
    expect(irq1.level).to.equal(false);
    expect(io.read8(DATA)).to.equal(0x5a);
    expect(irq12.level).to.equal(false);
  });

  it('has no mouse: bytes for the aux device get no answer', () => {
    const { command, drain } = setup();
    command(0xd4, 0xf2);
    expect(drain()).to.deep.equal([]);
  });

  it('shows the last byte again when the guest reads an empty buffer', () => {
    const { io, command } = setup();
    command(0xaa);
    expect(io.read8(DATA)).to.equal(0x55);
    expect(io.read8(DATA)).to.equal(0x55);
  });

  it('raises IRQ 1 per byte only while the configuration enables it', () => {
    const { io, irq1, irq1Edges, keyboard, setConfig, drain } = setup();
    setConfig(CONFIG_TRANSLATE);
    keyboard.pressKey('KeyA');
    expect(io.read8(STATUS) & STATUS_OBF).to.equal(STATUS_OBF);
    expect(irq1.level).to.equal(false);
    expect(drain()).to.deep.equal([0x1e]);

    setConfig(CONFIG_TRANSLATE | CONFIG_KEYBOARD_IRQ);
    irq1Edges.length = 0;
    keyboard.pressKey('ArrowUp');
    expect(irq1.level).to.equal(true);
    expect(drain()).to.deep.equal([0xe0, 0x48]);
    expect(irq1Edges.length).to.equal(2);
    expect(irq1.level).to.equal(false);
  });

  it('holds keyboard bytes back while the keyboard port is disabled', () => {
    const { io, keyboard, command, drain, setConfig } = setup();
    setConfig(CONFIG_KEYBOARD_DISABLED);
    keyboard.pressKey('KeyA');
    expect(io.read8(STATUS) & STATUS_OBF).to.equal(0);
    command(0xae);
    expect(drain()).to.deep.equal([0x1c]);
  });

  it('gates A20 through output port bit 1, telling the listeners', () => {
    const { controller, command, drain, a20Changes } = setup();
    expect(controller.a20Enabled).to.equal(true);
    command(0xd1, 0xcd);
    expect(controller.a20Enabled).to.equal(false);
    command(0xd0);
    expect(drain()).to.deep.equal([0xcd]);
    command(0xd1, 0xcf);
    expect(controller.a20Enabled).to.equal(true);
    command(0xd1, 0xcf);
    expect(a20Changes).to.deep.equal([false, true]);
  });

  it('gates A20 through port 0x92 bit 1, ORed with the output port', () => {
    const { io, controller, command, a20Changes } = setup();
    command(0xd1, 0xcd);
    io.write8(CONTROL_A, 0x02);
    expect(controller.a20Enabled).to.equal(true);
    expect(io.read8(CONTROL_A)).to.equal(0x02);
    io.write8(CONTROL_A, 0x00);
    expect(controller.a20Enabled).to.equal(false);
    expect(a20Changes).to.deep.equal([false, true, false]);
  });

  it('resets the CPU through command FE, the pulse commands and output port bit 0', () => {
    const machine = setup();
    machine.command(0xfe);
    expect(machine.resets).to.equal(1);
    machine.command(0xff); // pulses no line
    machine.command(0xf0); // pulses lines 0-3
    expect(machine.resets).to.equal(2);
    machine.command(0xd1, 0xce);
    expect(machine.resets).to.equal(3);
  });

  it('resets the CPU when port 0x92 bit 0 goes from 0 to 1', () => {
    const machine = setup();
    machine.io.write8(CONTROL_A, 0x01);
    expect(machine.resets).to.equal(1);
    machine.io.write8(CONTROL_A, 0x03);
    expect(machine.resets).to.equal(1);
    machine.io.write8(CONTROL_A, 0x02);
    machine.io.write8(CONTROL_A, 0x03);
    expect(machine.resets).to.equal(2);
  });

  it('saves and restores buffer, configuration and A20', () => {
    const a = setup();
    a.setConfig(CONFIG_TRANSLATE | CONFIG_KEYBOARD_IRQ);
    a.command(0xd1, 0xcd);
    a.keyboard.pressKey('KeyA');
    a.keyboard.releaseKey('KeyB');
    expect(a.io.read8(DATA)).to.equal(0x1e);
    const saved = JSON.parse(JSON.stringify({ controller: a.controller.saveState(), keyboard: a.keyboard.saveState() }));

    const b = setup();
    b.keyboard.loadState(saved.keyboard);
    b.controller.loadState(saved.controller);
    expect(b.irq1.level).to.equal(true);
    expect(b.controller.a20Enabled).to.equal(false);
    expect(b.a20Changes).to.deep.equal([false]);
    expect(b.drain()).to.deep.equal([0xb0]);
    expect(b.getConfig()).to.equal(CONFIG_TRANSLATE | CONFIG_KEYBOARD_IRQ);
    expect(() => b.controller.loadState({ ram: 1 })).to.throw(/8042/);
  });

  it('returns to power-on state on reset', () => {
    const m = setup();
    m.setConfig(0);
    m.command(0xd1, 0xcd);
    m.command(0xaa);
    m.controller.reset();
    expect(m.io.read8(STATUS)).to.equal(STATUS_UNLOCKED | STATUS_SYSTEM);
    expect(m.controller.a20Enabled).to.equal(true);
    expect(m.getConfig()).to.equal(0x45);
  });
});

describe('Ps2Keyboard', () => {
  it('answers reset with ACK and self-test passed, and identifies as MF2', () => {
    const { io, drain } = rawSetup();
    io.write8(DATA, 0xff);
    expect(drain()).to.deep.equal([0xfa, 0xaa]);
    io.write8(DATA, 0xf2);
    expect(drain()).to.deep.equal([0xfa, 0xab, 0x83]);
  });

  it('identifies as AB 41 behind a translating controller', () => {
    const { io, drain } = setup();
    io.write8(DATA, 0xf2);
    expect(drain()).to.deep.equal([0xfa, 0xab, 0x41]);
  });

  it('echoes, sets LEDs and typematic rate, resends, and refuses unknown commands', () => {
    const { io, drain, keyboard } = rawSetup();
    io.write8(DATA, 0xee);
    expect(drain()).to.deep.equal([0xee]);
    io.write8(DATA, 0xed);
    io.write8(DATA, 0x05);
    expect(drain()).to.deep.equal([0xfa, 0xfa]);
    expect(keyboard.leds).to.equal(0x05);
    io.write8(DATA, 0xf3);
    io.write8(DATA, 0x20);
    expect(drain()).to.deep.equal([0xfa, 0xfa]);
    io.write8(DATA, 0xfe);
    expect(drain()).to.deep.equal([0xfa]);
    io.write8(DATA, 0xa5);
    expect(drain()).to.deep.equal([0xfe]);
  });

  it('gets and sets the scan code set', () => {
    const { io, drain, keyboard } = rawSetup();
    const getSet = (): number[] => {
      io.write8(DATA, 0xf0);
      io.write8(DATA, 0x00);
      return drain();
    };
    expect(getSet()).to.deep.equal([0xfa, 0xfa, 0x02]);
    io.write8(DATA, 0xf0);
    io.write8(DATA, 0x03);
    expect(drain()).to.deep.equal([0xfa, 0xfa]);
    expect(getSet()).to.deep.equal([0xfa, 0xfa, 0x03]);
    io.write8(DATA, 0xf0);
    io.write8(DATA, 0x04);
    expect(drain()).to.deep.equal([0xfa, 0xfe]);
    expect(keyboard.scanCodeSet).to.equal(3);
    io.write8(DATA, 0xf6); // defaults bring set 2 back
    expect(drain()).to.deep.equal([0xfa]);
    expect(getSet()).to.deep.equal([0xfa, 0xfa, 0x02]);
  });

  it('reports the scan code set translated (set 2 reads 0x41) through the controller', () => {
    const { io, drain } = setup();
    io.write8(DATA, 0xf0);
    io.write8(DATA, 0x00);
    expect(drain()).to.deep.equal([0xfa, 0xfa, 0x41]);
  });

  it('sends set 2 make and break codes, E0-prefixed ones included', () => {
    const { keyboard, drain } = rawSetup();
    keyboard.pressKey('KeyA');
    keyboard.releaseKey('KeyA');
    expect(drain()).to.deep.equal([0x1c, 0xf0, 0x1c]);
    keyboard.pressKey('ArrowUp');
    keyboard.releaseKey('ArrowUp');
    expect(drain()).to.deep.equal([0xe0, 0x75, 0xe0, 0xf0, 0x75]);
    keyboard.pressKey('F7');
    keyboard.pressKey('ControlRight');
    keyboard.pressKey('NumpadEnter');
    expect(drain()).to.deep.equal([0x83, 0xe0, 0x14, 0xe0, 0x5a]);
  });

  it('sends the set 2 PrintScreen and Pause sequences', () => {
    const { keyboard, drain } = rawSetup();
    keyboard.pressKey('PrintScreen');
    keyboard.releaseKey('PrintScreen');
    expect(drain()).to.deep.equal([0xe0, 0x12, 0xe0, 0x7c, 0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12]);
    keyboard.pressKey('Pause');
    keyboard.releaseKey('Pause');
    expect(drain()).to.deep.equal([0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77]);
  });

  it('arrives as set 1 through the controller translation', () => {
    const { keyboard, drain } = setup();
    keyboard.pressKey('KeyA');
    keyboard.releaseKey('KeyA');
    expect(drain()).to.deep.equal([0x1e, 0x9e]);
    keyboard.pressKey('ArrowUp');
    keyboard.releaseKey('ArrowUp');
    expect(drain()).to.deep.equal([0xe0, 0x48, 0xe0, 0xc8]);
    keyboard.pressKey('F7');
    keyboard.releaseKey('F7');
    expect(drain()).to.deep.equal([0x41, 0xc1]);
    keyboard.pressKey('PrintScreen');
    keyboard.releaseKey('PrintScreen');
    expect(drain()).to.deep.equal([0xe0, 0x2a, 0xe0, 0x37, 0xe0, 0xb7, 0xe0, 0xaa]);
    keyboard.pressKey('Pause');
    expect(drain()).to.deep.equal([0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5]);
  });

  it('produces set 1 itself when asked, and set 3 one code per key', () => {
    const { io, keyboard, drain } = rawSetup();
    io.write8(DATA, 0xf0);
    io.write8(DATA, 0x01);
    drain();
    keyboard.pressKey('Escape');
    keyboard.releaseKey('Escape');
    keyboard.pressKey('ArrowLeft');
    keyboard.releaseKey('ArrowLeft');
    expect(drain()).to.deep.equal([0x01, 0x81, 0xe0, 0x4b, 0xe0, 0xcb]);
    io.write8(DATA, 0xf0);
    io.write8(DATA, 0x03);
    drain();
    keyboard.pressKey('Escape');
    keyboard.releaseKey('Escape');
    keyboard.pressKey('ArrowLeft');
    keyboard.pressKey('ControlLeft');
    expect(drain()).to.deep.equal([0x08, 0xf0, 0x08, 0x61, 0x11]);
  });

  it('ignores keys while scanning is disabled and sends them again once enabled', () => {
    const { io, keyboard, drain } = rawSetup();
    io.write8(DATA, 0xf5);
    expect(drain()).to.deep.equal([0xfa]);
    keyboard.pressKey('KeyA');
    expect(drain()).to.deep.equal([]);
    io.write8(DATA, 0xf4);
    expect(drain()).to.deep.equal([0xfa]);
    keyboard.pressKey('KeyA');
    expect(drain()).to.deep.equal([0x1c]);
  });

  it('types ASCII text with Shift around shifted characters', () => {
    const { keyboard, drain } = setup();
    keyboard.typeText('aB!\n');
    expect(drain()).to.deep.equal([
      0x1e, 0x9e, // a
      0x2a, 0x30, 0xb0, 0xaa, // Shift B
      0x2a, 0x02, 0x82, 0xaa, // Shift 1
      0x1c, 0x9c, // Enter
    ]);
    expect(() => keyboard.typeText('é')).to.throw(/cannot type/);
    expect(() => keyboard.pressKey('KeyÄ')).to.throw(/unknown key code/);
  });

  it('saves and restores its settings and waiting codes', () => {
    const a = rawSetup();
    a.io.write8(DATA, 0xed);
    a.io.write8(DATA, 0x04);
    a.drain();
    a.command(0xad);
    a.keyboard.pressKey('KeyZ');
    const saved = JSON.parse(JSON.stringify(a.keyboard.saveState()));
    const b = rawSetup();
    b.command(0xad);
    b.keyboard.loadState(saved);
    expect(b.keyboard.leds).to.equal(0x04);
    b.command(0xae);
    expect(b.drain()).to.deep.equal([0x1a]);
    b.keyboard.reset();
    expect(b.keyboard.leds).to.equal(0);
    expect(() => b.keyboard.loadState(null)).to.throw(/PS\/2 keyboard/);
  });
});
