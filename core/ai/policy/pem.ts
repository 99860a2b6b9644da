/**
 * `private-key`: PEM private key blocks (PKCS#1 RSA, SEC1 EC, DSA, PKCS#8 plain or ENCRYPTED,
 * OPENSSH, PGP PRIVATE KEY BLOCK). The BEGIN marker alone is enough: a block runs from it to its
 * END marker, or, when that does not follow (a truncated or mangled key), to the end of its last
 * run of key data. Read one character at a time and never backwards by more than MAX_GAP, so a
 * stream can be followed without holding the block.
 */
import type { Span } from './types.ts';

const BEGIN_MARKER = /-----BEGIN (?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY(?: BLOCK)?-----/g;
/** Longest text BEGIN_MARKER matches. */
const BEGIN_MARKER_MAX = 84;
/** Longest block reported; an 8192-bit RSA key is about 6.5 KiB of PEM. */
const MAX_BLOCK = 16 * 1024;
/** Most text between two runs of key data (headers, the END marker); beyond it the block has ended. */
const MAX_GAP = 256;
/** Base64 characters in a row that count as key data rather than a word. */
const DATA_RUN = 16;
const END_KEYWORD = 'END ';
const LABEL_MAX = 40;

const BASE64 = /[A-Za-z0-9+/=]/;
// Line breaks, JSON's escaped \n, and the punctuation of Proc-Type/DEK-Info headers.
const FILLER = /[\s\\.:,]/;

/** A block: from its BEGIN marker's start to its end, and where the marker ends. */
export interface PemBlock extends Span {
  readonly markerEnd: number;
}

interface Block {
  start: number;
  markerEnd: number;
  lastDataEnd: number;
  run: number;
  dashes: number;
  /** Characters of "END " read after five dashes; -1 outside an END marker. */
  endKeyword: number;
  label: number;
  closingDashes: number;
}

type Step = 'more' | 'closed' | 'broken';

function stepEndMarker(block: Block, char: string): Step {
  if (block.endKeyword < END_KEYWORD.length) {
    if (char !== END_KEYWORD[block.endKeyword]) return 'broken';
    block.endKeyword++;
  } else if (char === '-') {
    block.closingDashes++;
    if (block.closingDashes === 5) return 'closed';
  } else if (block.closingDashes > 0 || !/[A-Z0-9 ]/.test(char) || ++block.label > LABEL_MAX) {
    return 'broken';
  }
  return 'more';
}

function stepBody(block: Block, char: string, index: number): Step {
  if (BASE64.test(char)) {
    block.dashes = 0;
    block.run++;
    if (block.run >= DATA_RUN) block.lastDataEnd = index + 1;
  } else if (char === '-') {
    block.run = 0;
    block.dashes++;
    if (block.dashes === 5) block.endKeyword = 0;
  } else if (FILLER.test(char)) {
    block.run = 0;
    block.dashes = 0;
  } else {
    return 'broken';
  }
  return 'more';
}

function step(block: Block, char: string, index: number): Step {
  const result = block.endKeyword >= 0 ? stepEndMarker(block, char) : stepBody(block, char, index);
  if (result !== 'more') return result;
  const tooFar = index + 1 - block.lastDataEnd > MAX_GAP || index + 1 - block.start > MAX_BLOCK;
  return tooFar ? 'broken' : 'more';
}

export interface PemTracker {
  /** Reads `text` to its end; `base` is where text[0] sits in the whole input, and text must still hold `position`. */
  advance(text: string, base: number): void;
  /** The input has ended: a block still open ends with its last key data. */
  finish(): void;
  /** Blocks completed since the last call. */
  takeClosed(): PemBlock[];
  /** The block being read, if any: it reaches at least `lastDataEnd`. */
  readonly open: { readonly start: number; readonly markerEnd: number; readonly lastDataEnd: number } | null;
  /** Offset of the next character to read. */
  readonly position: number;
}

export function createPemTracker(): PemTracker {
  let position = 0;
  let block: Block | null = null;
  let closed: PemBlock[] = [];

  function close(end: number) {
    if (block === null) return;
    closed.push({ start: block.start, end, markerEnd: block.markerEnd });
    position = end;
    block = null;
  }

  /** Looks for the next BEGIN marker; a marker cut by the end of the text is looked at again next time. */
  function findMarker(text: string, base: number): boolean {
    BEGIN_MARKER.lastIndex = position - base;
    const marker = BEGIN_MARKER.exec(text);
    if (marker === null) {
      position = Math.max(position, base + text.length - (BEGIN_MARKER_MAX - 1));
      return false;
    }
    const start = base + marker.index;
    const markerEnd = start + marker[0].length;
    block = {
      start,
      markerEnd,
      lastDataEnd: markerEnd,
      run: 0,
      dashes: 0,
      endKeyword: -1,
      label: 0,
      closingDashes: 0,
    };
    position = markerEnd;
    return true;
  }

  function readBlock(current: Block, text: string, base: number) {
    for (; position < base + text.length; position++) {
      const result = step(current, text[position - base] ?? '', position);
      if (result === 'closed') return close(position + 1);
      if (result === 'broken') return close(current.lastDataEnd);
    }
  }

  return {
    advance(text, base) {
      while (position < base + text.length) {
        if (block !== null) readBlock(block, text, base);
        else if (!findMarker(text, base)) return;
      }
    },
    finish() {
      if (block !== null) close(block.lastDataEnd);
    },
    takeClosed() {
      const taken = closed;
      closed = [];
      return taken;
    },
    get open() {
      return block;
    },
    get position() {
      return position;
    },
  };
}

/** Every private key block in a whole text. */
export function privateKeyBlocks(text: string): PemBlock[] {
  const tracker = createPemTracker();
  tracker.advance(text, 0);
  tracker.finish();
  return tracker.takeClosed();
}
