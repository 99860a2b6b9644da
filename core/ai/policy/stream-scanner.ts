/**
 * Detection over a stream of text deltas (a streamed model response), reporting exactly what
 * detect() reports on the whole text, with offsets into the whole stream.
 *
 * A candidate starting at p depends only on text[p - LEFT_CONTEXT, p + maxLength + RIGHT_CONTEXT),
 * so once that much text has arrived the decision for p is final: the scanner settles everything up
 * to `streamEnd - lookahead` and forgets all but LEFT_CONTEXT characters before it. Private keys are
 * the exception, as a PEM block can be longer than that window: the PEM tracker follows a block from
 * its BEGIN marker, and the scanner holds the block's text (at most MAX_BLOCK) until it ends.
 *
 * So a finding is reported once `lookahead` more characters have arrived (about 4.3 KiB with
 * `api-key`, whose JWTs are the longest patterns; a few hundred characters without it), plus up to
 * a quarter of that as settling step, or at end(); a private key as soon as its END marker has.
 */
import { byPosition, candidatesIn, keepNonOverlapping, selectPatternDetectors } from './engine.ts';
import { createPemTracker } from './pem.ts';
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
}

export function createStreamScanner(detectors: readonly DetectorName[] = detectorNames): StreamScanner {
  const patterns = selectPatternDetectors(detectors);
  const pem = detectors.includes('private-key') ? createPemTracker() : null;
  const lookahead = Math.max(0, ...patterns.map((detector) => detector.maxLength)) + RIGHT_CONTEXT;
  // Fresh text needed before settling again, so that tiny deltas do not rescan the whole tail each time.
  const settleStep = Math.min(1024, Math.max(64, lookahead >> 2));
  let text = '';
  /** Stream offset of text[0]. */
  let base = 0;
  /** Every finding starting before it has been reported or ruled out. */
  let frontier = 0;
  let reportedUntil = 0;
  let privateKeys: Finding[] = [];
  let ended = false;

  const finding = (detector: DetectorName, { start, end }: Span): Finding => ({
    detector,
    start,
    end,
    value: text.slice(start - base, end - base),
  });

  function followPrivateKeys(final: boolean) {
    if (pem === null) return;
    pem.advance(text, base);
    if (final) pem.finish();
    privateKeys.push(...pem.takeClosed().map((span) => finding('private-key', span)));
  }

  function forget() {
    const open = pem?.open;
    const keepFrom = Math.min(
      frontier - LEFT_CONTEXT,
      open ? open.start : frontier,
      pem ? pem.position : frontier,
    );
    if (keepFrom <= base) return;
    text = text.slice(keepFrom - base);
    base = keepFrom;
  }

  function settle(final: boolean): Finding[] {
    followPrivateKeys(final);
    const streamEnd = base + text.length;
    const open = pem?.open;
    // Inside an open block, candidates up to its last key data are covered by it whatever its end.
    const decidedUntil = Math.max(
      frontier,
      Math.min(final ? streamEnd : streamEnd - lookahead, open ? open.lastDataEnd : streamEnd),
    );
    const candidates = candidatesIn(text, patterns, frontier - base, decidedUntil - base, base);
    const blocks: Span[] = open
      ? [...privateKeys, { start: open.start, end: Number.POSITIVE_INFINITY }]
      : privateKeys;
    const kept = keepNonOverlapping(candidates, blocks, reportedUntil);
    const keys = privateKeys.filter((key) => key.start < decidedUntil);
    privateKeys = privateKeys.filter((key) => key.start >= decidedUntil);
    const reported = [...kept, ...keys].sort(byPosition);
    for (const each of reported) reportedUntil = Math.max(reportedUntil, each.end);
    frontier = decidedUntil;
    forget();
    return reported;
  }

  return {
    push(delta) {
      if (ended) throw new Error('push() after end() on a stream scanner');
      text += delta;
      // An open block ends with the dashes of its END marker: follow it then, so the key is reported
      // at once rather than at the next step (reading the buffer on every delta would copy it each time).
      if (pem?.open && delta.includes('-')) followPrivateKeys(false);
      const settledUntil = base + text.length - lookahead;
      const keyReady = privateKeys.some((key) => key.start < settledUntil);
      return keyReady || settledUntil - frontier >= settleStep ? settle(false) : [];
    },
    end() {
      if (ended) return [];
      ended = true;
      return settle(true);
    },
    get retainedChars() {
      return text.length;
    },
  };
}
