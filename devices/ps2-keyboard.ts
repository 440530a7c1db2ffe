import type { Device } from './device.js';
import { ByteQueue } from './byte-queue.js';

const CMD_SET_LEDS = 0xed;
const CMD_ECHO = 0xee;
const CMD_SCAN_CODE_SET = 0xf0;
const CMD_IDENTIFY = 0xf2;
const CMD_TYPEMATIC = 0xf3;
const CMD_ENABLE_SCANNING = 0xf4;
const CMD_DISABLE_SCANNING = 0xf5;
const CMD_SET_DEFAULTS = 0xf6;
const CMD_RESEND = 0xfe;
const CMD_RESET = 0xff;

const REPLY_SELF_TEST_PASSED = 0xaa;
const REPLY_ACK = 0xfa;
const REPLY_RESEND = 0xfe;
/** An MF2 keyboard's identity; behind a translating controller the second byte reads 0x41. */
const ID_MF2 = [0xab, 0x83];

const NO_COMMAND = -1;
/** 10.9 characters per second after a 500 ms delay. */
const DEFAULT_TYPEMATIC = 0x2b;
const DEFAULT_SCAN_SET = 2;

const EXTENDED_PREFIX = 0xe0;
/** Set 2 and set 3 send this before the key's code to say "released". */
export const BREAK_PREFIX = 0xf0;

/**
 * The 8042's set 2 to set 1 translation (IBM PC AT Technical Reference). Bytes from 0x80 up pass
 * unchanged except 0x83 (F7) and 0x84 (SysRq); 0x00, the overrun code, becomes 0xFF.
 */
const SET2_TO_SET1 = new Uint8Array(256);
[
  0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
  0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
  0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
  0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
  0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
  0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
  0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
  0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
].forEach((code, index) => (SET2_TO_SET1[index] = code));
for (let byte = 0x80; byte < 0x100; byte++) SET2_TO_SET1[byte] = byte;
SET2_TO_SET1[0x83] = 0x41;
SET2_TO_SET1[0x84] = 0x54;

/** One byte of the translation; a byte that followed the break prefix gets bit 7 (the set 1 break bit). */
export function translateToSet1(byte: number, afterBreakPrefix: boolean): number {
  return SET2_TO_SET1[byte] | (afterBreakPrefix ? 0x80 : 0);
}

/** A key's set 2 make code (an E0 prefix included) and its set 3 code. */
type KeyCodes = readonly [set2: readonly number[], set3: number];

const e0 = (code: number): readonly number[] => [EXTENDED_PREFIX, code];

/** KeyboardEvent.code names of a US 104-key keyboard plus the ISO 102nd key. */
const KEYS: Readonly<Record<string, KeyCodes>> = {
  Escape: [[0x76], 0x08],
  F1: [[0x05], 0x07], F2: [[0x06], 0x0f], F3: [[0x04], 0x17], F4: [[0x0c], 0x1f],
  F5: [[0x03], 0x27], F6: [[0x0b], 0x2f], F7: [[0x83], 0x37], F8: [[0x0a], 0x3f],
  F9: [[0x01], 0x47], F10: [[0x09], 0x4f], F11: [[0x78], 0x56], F12: [[0x07], 0x5e],
  ScrollLock: [[0x7e], 0x5f],
  Backquote: [[0x0e], 0x0e],
  Digit1: [[0x16], 0x16], Digit2: [[0x1e], 0x1e], Digit3: [[0x26], 0x26], Digit4: [[0x25], 0x25],
  Digit5: [[0x2e], 0x2e], Digit6: [[0x36], 0x36], Digit7: [[0x3d], 0x3d], Digit8: [[0x3e], 0x3e],
  Digit9: [[0x46], 0x46], Digit0: [[0x45], 0x45],
  Minus: [[0x4e], 0x4e], Equal: [[0x55], 0x55], Backspace: [[0x66], 0x66],
  Tab: [[0x0d], 0x0d],
  KeyQ: [[0x15], 0x15], KeyW: [[0x1d], 0x1d], KeyE: [[0x24], 0x24], KeyR: [[0x2d], 0x2d],
  KeyT: [[0x2c], 0x2c], KeyY: [[0x35], 0x35], KeyU: [[0x3c], 0x3c], KeyI: [[0x43], 0x43],
  KeyO: [[0x44], 0x44], KeyP: [[0x4d], 0x4d],
  BracketLeft: [[0x54], 0x54], BracketRight: [[0x5b], 0x5b], Backslash: [[0x5d], 0x5c],
  CapsLock: [[0x58], 0x14],
  KeyA: [[0x1c], 0x1c], KeyS: [[0x1b], 0x1b], KeyD: [[0x23], 0x23], KeyF: [[0x2b], 0x2b],
  KeyG: [[0x34], 0x34], KeyH: [[0x33], 0x33], KeyJ: [[0x3b], 0x3b], KeyK: [[0x42], 0x42],
  KeyL: [[0x4b], 0x4b],
  Semicolon: [[0x4c], 0x4c], Quote: [[0x52], 0x52], Enter: [[0x5a], 0x5a],
  ShiftLeft: [[0x12], 0x12], IntlBackslash: [[0x61], 0x13],
  KeyZ: [[0x1a], 0x1a], KeyX: [[0x22], 0x22], KeyC: [[0x21], 0x21], KeyV: [[0x2a], 0x2a],
  KeyB: [[0x32], 0x32], KeyN: [[0x31], 0x31], KeyM: [[0x3a], 0x3a],
  Comma: [[0x41], 0x41], Period: [[0x49], 0x49], Slash: [[0x4a], 0x4a], ShiftRight: [[0x59], 0x59],
  ControlLeft: [[0x14], 0x11], MetaLeft: [e0(0x1f), 0x8b], AltLeft: [[0x11], 0x19], Space: [[0x29], 0x29],
  AltRight: [e0(0x11), 0x39], MetaRight: [e0(0x27), 0x8c], ContextMenu: [e0(0x2f), 0x8d],
  ControlRight: [e0(0x14), 0x58],
  Insert: [e0(0x70), 0x67], Home: [e0(0x6c), 0x6e], PageUp: [e0(0x7d), 0x6f],
  Delete: [e0(0x71), 0x64], End: [e0(0x69), 0x65], PageDown: [e0(0x7a), 0x6d],
  ArrowUp: [e0(0x75), 0x63], ArrowLeft: [e0(0x6b), 0x61], ArrowDown: [e0(0x72), 0x60],
  ArrowRight: [e0(0x74), 0x6a],
  NumLock: [[0x77], 0x76], NumpadDivide: [e0(0x4a), 0x77], NumpadMultiply: [[0x7c], 0x7e],
  NumpadSubtract: [[0x7b], 0x84], NumpadAdd: [[0x79], 0x7c], NumpadEnter: [e0(0x5a), 0x79],
  NumpadDecimal: [[0x71], 0x71], Numpad0: [[0x70], 0x70], Numpad1: [[0x69], 0x69],
  Numpad2: [[0x72], 0x72], Numpad3: [[0x7a], 0x7a], Numpad4: [[0x6b], 0x6b], Numpad5: [[0x73], 0x73],
  Numpad6: [[0x74], 0x74], Numpad7: [[0x6c], 0x6c], Numpad8: [[0x75], 0x75], Numpad9: [[0x7d], 0x7d],
  // Set 2 sends these two as whole sequences (below); only their set 3 codes live here.
  PrintScreen: [[], 0x57],
  Pause: [[], 0x62],
};

/** Set 2 PrintScreen: a fake left shift around the key (E0 12 E0 7C), undone in reverse on release. */
const PRINT_SCREEN_MAKE = [0xe0, 0x12, 0xe0, 0x7c];
const PRINT_SCREEN_BREAK = [0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12];
/** Set 2 Pause: Ctrl+NumLock pressed and released at once under E1; nothing on release. */
const PAUSE_MAKE = [0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77];

/** US layout: the unshifted and shifted character of each key that types one. */
const TYPING_KEYS: readonly [code: string, plain: string, shifted: string][] = [
  ['Backquote', '`', '~'], ['Digit1', '1', '!'], ['Digit2', '2', '@'], ['Digit3', '3', '#'],
  ['Digit4', '4', '$'], ['Digit5', '5', '%'], ['Digit6', '6', '^'], ['Digit7', '7', '&'],
  ['Digit8', '8', '*'], ['Digit9', '9', '('], ['Digit0', '0', ')'], ['Minus', '-', '_'],
  ['Equal', '=', '+'], ['BracketLeft', '[', '{'], ['BracketRight', ']', '}'], ['Backslash', '\\', '|'],
  ['Semicolon', ';', ':'], ['Quote', "'", '"'], ['Comma', ',', '<'], ['Period', '.', '>'],
  ['Slash', '/', '?'], ['Space', ' ', ' '], ['Enter', '\n', '\n'], ['Tab', '\t', '\t'],
  ['Backspace', '\b', '\b'], ['Escape', '\x1b', '\x1b'],
  ...[...'abcdefghijklmnopqrstuvwxyz'].map((c): [string, string, string] => [`Key${c.toUpperCase()}`, c, c.toUpperCase()]),
];
const CHARACTER_KEYS = new Map<string, { code: string; shift: boolean }>();
for (const [code, plain, shifted] of TYPING_KEYS) {
  CHARACTER_KEYS.set(shifted, { code, shift: plain !== shifted });
  CHARACTER_KEYS.set(plain, { code, shift: false });
}
CHARACTER_KEYS.set('\r', { code: 'Enter', shift: false });

interface KeyboardState {
  scanSet: number;
  scanning: boolean;
  leds: number;
  typematic: number;
  /** ED, F0 or F3 while the keyboard waits for that command's data byte, else -1. */
  pendingCommand: number;
  /** Replies to commands; they go out ahead of waiting key codes. */
  replies: number[];
  /** For the resend command. */
  lastSent: number;
}

interface KeyboardSnapshot extends KeyboardState {
  keyCodes: number[];
}

function powerOnState(): KeyboardState {
  return {
    scanSet: DEFAULT_SCAN_SET,
    scanning: true,
    leds: 0,
    typematic: DEFAULT_TYPEMATIC,
    pendingCommand: NO_COMMAND,
    replies: [],
    lastSent: REPLY_SELF_TEST_PASSED,
  };
}

/**
 * An MF2 PS/2 keyboard on the 8042's first port. It produces scan code set 2 natively; set 1 is
 * set 2 through the 8042 translation table (which is what set 1 is), set 3 is one code per key with
 * F0 before the code on release (every key make/break). Not modelled: typematic repeat (the host
 * sends its own presses; the rate byte is only kept), the set 3 per-key type commands F7-FD
 * (answered with Resend), the fake shifts that set 2 adds around navigation keys while Shift or
 * Num Lock is down, and the 16-byte buffer's overrun: host key codes wait without limit.
 */
export class Ps2Keyboard implements Device {
  private s = powerOnState();
  private keyCodes = new ByteQueue();
  private dataListener: () => void = () => {};

  constructor(readonly name = 'PS/2 keyboard') {}

  /** The controller's hook: called whenever the keyboard has a byte for it. */
  connect(onData: () => void): void {
    this.dataListener = onData;
  }

  get hasOutput(): boolean {
    return this.s.replies.length > 0 || this.keyCodes.length > 0;
  }

  /** Next byte towards the controller; only call while hasOutput. */
  takeOutput(): number {
    const byte = this.s.replies.length > 0 ? (this.s.replies.shift() as number) : this.keyCodes.shift();
    this.s.lastSent = byte;
    return byte;
  }

  /** A byte from the controller: a command or a command's data byte. */
  write(byte: number): void {
    const command = this.s.pendingCommand;
    this.s.pendingCommand = NO_COMMAND;
    if (command === NO_COMMAND) this.runCommand(byte);
    else this.takeCommandData(command, byte);
    this.dataListener();
  }

  pressKey(code: string): void {
    this.sendKey(code, true);
  }

  releaseKey(code: string): void {
    this.sendKey(code, false);
  }

  /** Types ASCII text on a US layout, pressing Shift around shifted characters; "\n" is Enter. */
  typeText(text: string): void {
    for (const character of text) {
      const key = CHARACTER_KEYS.get(character);
      if (key === undefined) {
        throw new Error(
          `${this.name}: cannot type ${JSON.stringify(character)}; typeText knows printable ASCII, \\n, \\t, \\b and ESC`,
        );
      }
      if (key.shift) this.pressKey('ShiftLeft');
      this.pressKey(key.code);
      this.releaseKey(key.code);
      if (key.shift) this.releaseKey('ShiftLeft');
    }
  }

  /** LED bits as last set by the guest: 0 Scroll Lock, 1 Num Lock, 2 Caps Lock. */
  get leds(): number {
    return this.s.leds;
  }

  get scanCodeSet(): number {
    return this.s.scanSet;
  }

  reset(): void {
    this.s = powerOnState();
    this.keyCodes = new ByteQueue();
  }

  saveState(): KeyboardSnapshot {
    return { ...this.s, replies: [...this.s.replies], keyCodes: this.keyCodes.toArray() };
  }

  loadState(state: unknown): void {
    const snapshot = state as Partial<KeyboardSnapshot> | null;
    const valid = typeof snapshot === 'object' && snapshot !== null;
    if (!valid || !Array.isArray(snapshot.replies) || !Array.isArray(snapshot.keyCodes)) {
      throw new Error(`${this.name}: snapshot is not a PS/2 keyboard state`);
    }
    const { keyCodes, ...registers } = snapshot as KeyboardSnapshot;
    this.s = { ...registers, replies: [...registers.replies] };
    this.keyCodes = new ByteQueue();
    this.keyCodes.push(keyCodes);
  }

  private runCommand(command: number): void {
    const replies = this.s.replies;
    switch (command) {
      case CMD_SET_LEDS:
      case CMD_SCAN_CODE_SET:
      case CMD_TYPEMATIC:
        this.s.pendingCommand = command;
        replies.push(REPLY_ACK);
        return;
      case CMD_ECHO:
        replies.push(CMD_ECHO);
        return;
      case CMD_IDENTIFY:
        replies.push(REPLY_ACK, ...ID_MF2);
        return;
      case CMD_ENABLE_SCANNING:
        this.keyCodes = new ByteQueue();
        this.s.scanning = true;
        replies.push(REPLY_ACK);
        return;
      case CMD_DISABLE_SCANNING:
        this.setDefaults();
        this.s.scanning = false;
        replies.push(REPLY_ACK);
        return;
      case CMD_SET_DEFAULTS:
        this.setDefaults();
        this.s.scanning = true;
        replies.push(REPLY_ACK);
        return;
      case CMD_RESEND:
        replies.push(this.s.lastSent);
        return;
      case CMD_RESET:
        this.reset();
        this.s.replies.push(REPLY_ACK, REPLY_SELF_TEST_PASSED);
        return;
      default:
        replies.push(REPLY_RESEND);
    }
  }

  private takeCommandData(command: number, data: number): void {
    const replies = this.s.replies;
    if (command === CMD_SET_LEDS) {
      this.s.leds = data & 0x07;
    } else if (command === CMD_TYPEMATIC) {
      this.s.typematic = data & 0x7f;
    } else if (data === 0) {
      replies.push(REPLY_ACK, this.s.scanSet);
      return;
    } else if (data >= 1 && data <= 3) {
      this.s.scanSet = data;
      this.keyCodes = new ByteQueue();
    } else {
      replies.push(REPLY_RESEND);
      return;
    }
    replies.push(REPLY_ACK);
  }

  /** F5 and F6 restore typematic rate and scan code set and drop waiting key codes. */
  private setDefaults(): void {
    this.s.typematic = DEFAULT_TYPEMATIC;
    this.s.scanSet = DEFAULT_SCAN_SET;
    this.keyCodes = new ByteQueue();
  }

  private sendKey(code: string, pressed: boolean): void {
    const key = KEYS[code];
    if (key === undefined) {
      throw new Error(`${this.name}: unknown key code ${JSON.stringify(code)} (expected a KeyboardEvent.code name such as KeyA or ArrowUp)`);
    }
    if (!this.s.scanning) return;
    this.keyCodes.push(this.scanCodes(code, key, pressed));
    this.dataListener();
  }

  private scanCodes(code: string, [set2, set3]: KeyCodes, pressed: boolean): number[] {
    if (this.s.scanSet === 3) return pressed ? [set3] : [BREAK_PREFIX, set3];
    const sequence = set2Sequence(code, set2, pressed);
    if (this.s.scanSet === 2) return sequence;
    const set1: number[] = [];
    let afterBreakPrefix = false;
    for (const byte of sequence) {
      if (byte === BREAK_PREFIX) afterBreakPrefix = true;
      else {
        set1.push(translateToSet1(byte, afterBreakPrefix));
        afterBreakPrefix = false;
      }
    }
    return set1;
  }
}

function set2Sequence(code: string, make: readonly number[], pressed: boolean): number[] {
  if (code === 'PrintScreen') return pressed ? PRINT_SCREEN_MAKE : PRINT_SCREEN_BREAK;
  if (code === 'Pause') return pressed ? PAUSE_MAKE : [];
  if (pressed) return [...make];
  return make.length === 2 ? [EXTENDED_PREFIX, BREAK_PREFIX, make[1]] : [BREAK_PREFIX, make[0]];
}
