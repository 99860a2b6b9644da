/** Shared shapes of the built-in AI policy detectors. */

export const detectorNames = [
  'email',
  'phone',
  'card',
  'iban',
  'national-id',
  'api-key',
  'private-key',
  'prompt-injection',
] as const;

export type DetectorName = (typeof detectorNames)[number];

/** A detected value; offsets are UTF-16 indices into the scanned text (or the whole stream). */
export interface Finding {
  detector: DetectorName;
  start: number;
  end: number;
  value: string;
}

export interface Span {
  start: number;
  end: number;
}

/**
 * How far a detector may look around a candidate. A candidate starting at `p` is judged only on
 * text[p - LEFT_CONTEXT, p + maxLength + RIGHT_CONTEXT), which is what lets the stream scanner keep
 * a bounded tail and still report exactly what detect() reports on the whole text.
 */
export const LEFT_CONTEXT = 256;
/** Also longer than a PEM BEGIN marker, so a settled candidate always sees a key block it runs into. */
export const RIGHT_CONTEXT = 128;

/** A detector judged on a bounded window of text (every one but `private-key`). */
export interface PatternDetector {
  readonly name: DetectorName;
  /** Longest span it can match. */
  readonly maxLength: number;
  /** Every span it accepts that starts in [from, to); one span per start position at most. */
  find(text: string, from: number, to: number): Span[];
}
