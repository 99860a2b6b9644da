/**
 * Detection over a stream of text deltas (a streamed model response), with offsets into the whole
 * stream, keeping a bounded tail.
 *
 * A candidate starting at p depends only on text[p - LEFT_CONTEXT, p + maxLength + RIGHT_CONTEXT),
 * so once that much text has arrived the decision for p is final: the scanner settles everything up
 * to `streamEnd - lookahead` and forgets all but LEFT_CONTEXT characters before it. It reports what
 * detect() reports on the whole text, but for private keys: a PEM block can be longer than any tail,
 * and its BEGIN marker is all it takes, so a private key is reported as soon as its marker has
 * arrived, as the marker alone (start of the block to end of the marker), letting a gateway stop the
 * answer before the key itself goes out. The block is then followed without being held, and what
 * it covers is not reported under another detector.
 *
 * Other findings are reported once `lookahead` more characters have arrived (about 4.3 KiB with
 * `api-key`, whose JWTs are the longest patterns; a few hundred characters without it), plus up to a
 * quarter of that as settling step, or at end().
 */
import { byPosition, candidatesIn, keepNonOverlapping, selectPatternDetectors } from './engine.ts';
import { createPemTracker, type PemBlock } from './pem.ts';
import {
  type DetectorName,
  detectorNames,
  type Finding,
  LEFT_CONTEXT,
  RIGHT_CONTEXT,
  type Span,
} from './types.ts';

export interface StreamScanner {
  /** Adds the next delta; returns the findings that became certain (possibly none). */
  push(delta: string): Finding[];
  /** The stream has ended: returns the remaining findings. */
  end(): Finding[];
  /** Characters currently held back. */
  readonly retainedChars: number;
  /** Stream offset before which every finding has been reported: text up to it can go out. */
  readonly settledChars: number;
}

/** A BEGIN marker ends with "PRIVATE KEY-----" or "KEY BLOCK-----": no marker completes in a delta without one of these. */
const MARKER_ENDINGS = ['Y-----', 'K-----'];
const MARKER_ENDING_LENGTH = 6;

export function createStreamScanner(detectors: readonly DetectorName[] = detectorNames): StreamScanner {
  const patterns = selectPatternDetectors(detectors);
  const pem = detectors.includes('private-key') ? createPemTracker() : null;
  const lookahead = Math.max(0, ...patterns.map((detector) => detector.maxLength)) + RIGHT_CONTEXT;
  // Fresh text needed before settling again, so that tiny deltas do not rescan the whole tail each time.
  const settleStep = Math.min(1024, Math.max(64, lookahead >> 2));
  let text = '';
  /** Stream offset of text[0]. */
  let base = 0;
  /** Every candidate starting before it has been reported or ruled out. */
  let frontier = 0;
  let reportedUntil = 0;
  /** Private key blocks that may still overlap candidates to come. */
  let keyBlocks: PemBlock[] = [];
  let lastKeyReported = -1;
  /** The end of the previous deltas, to see a marker's dashes arrive across two deltas. */
  let previousTail = '';
  let ended = false;

  /** Follows PEM blocks over the new text; returns the markers of blocks not reported yet. */
  function followPrivateKeys(final: boolean): Finding[] {
    if (pem === null) return [];
    pem.advance(text, base);
    if (final) pem.finish();
    keyBlocks.push(...pem.takeClosed());
    const blocks = pem.open ? [...keyBlocks, pem.open] : keyBlocks;
    const fresh = blocks.filter((block) => block.start > lastKeyReported);
    if (fresh.length > 0) lastKeyReported = fresh.at(-1)?.start ?? lastKeyReported;
    return fresh.map(({ start, markerEnd }) => ({
      detector: 'private-key',
      start,
      end: markerEnd,
      value: text.slice(start - base, markerEnd - base),
    }));
  }

  function forget() {
    keyBlocks = keyBlocks.filter((block) => block.end > frontier);
    const keepFrom = Math.min(frontier - LEFT_CONTEXT, pem ? pem.position : frontier);
    if (keepFrom <= base) return;
    text = text.slice(keepFrom - base);
    base = keepFrom;
  }

  function settle(final: boolean): Finding[] {
    const keys = followPrivateKeys(final);
    const streamEnd = base + text.length;
    const open = pem?.open;
    // Inside an open block, candidates up to its last key data are covered by it whatever its end.
    const decidedUntil = Math.max(
      frontier,
      Math.min(final ? streamEnd : streamEnd - lookahead, open ? open.lastDataEnd : streamEnd),
    );
    const candidates = candidatesIn(text, patterns, frontier - base, decidedUntil - base, base);
    const blocks: Span[] = open
      ? [...keyBlocks, { start: open.start, end: Number.POSITIVE_INFINITY }]
      : keyBlocks;
    const kept = keepNonOverlapping(candidates, blocks, reportedUntil);
    reportedUntil = kept.at(-1)?.end ?? reportedUntil;
    frontier = decidedUntil;
    forget();
    return [...keys, ...kept].sort(byPosition);
  }

  return {
    push(delta) {
      if (ended) throw new Error('push() after end() on a stream scanner');
      text += delta;
      const arrived = previousTail + delta;
      previousTail = arrived.slice(-(MARKER_ENDING_LENGTH - 1));
      if (base + text.length - lookahead - frontier >= settleStep) return settle(false);
      // Reading the buffer copies it, so it is only read early when a marker may have just completed.
      return MARKER_ENDINGS.some((ending) => arrived.includes(ending)) ? followPrivateKeys(false) : [];
    },
    end() {
      if (ended) return [];
      ended = true;
      return settle(true);
    },
    get retainedChars() {
      return text.length;
    },
    get settledChars() {
      return frontier;
    },
  };
}
