/** Building blocks the pattern detectors share: regex rules tried at every start position, and nearby words. */
import { type DetectorName, type PatternDetector, RIGHT_CONTEXT, type Span } from './types.ts';

export interface Rule {
  /** Needs the `g` flag. Lookbehinds may read back up to LEFT_CONTEXT characters, lookaheads up to RIGHT_CONTEXT. */
  readonly regex: RegExp;
  /** Longest text the regex can match. */
  readonly maxLength: number;
  /** Second look at a match, with the whole text around it; the default keeps every match. */
  readonly accept?: (value: string, text: string, start: number) => boolean;
}

/**
 * Every match starting in [from, to). Each search resumes one character after the previous match's
 * start, not after its end, so what is found never depends on where the scan began.
 */
export function* matchesStartingIn(regex: RegExp, text: string, from: number, to: number) {
  regex.lastIndex = from;
  for (let match = regex.exec(text); match !== null && match.index < to; match = regex.exec(text)) {
    yield match;
    regex.lastIndex = match.index + 1;
  }
}

function ruleSpans(rule: Rule, text: string, from: number, to: number): Span[] {
  // Text beyond the last possible match and its lookahead cannot change the result; leaving it out
  // keeps a failed search from running to the end of a long buffer.
  const horizon = to + rule.maxLength + RIGHT_CONTEXT;
  const scope = horizon < text.length ? text.slice(0, horizon) : text;
  const spans: Span[] = [];
  for (const match of matchesStartingIn(rule.regex, scope, from, to)) {
    const start = match.index;
    if (rule.accept === undefined || rule.accept(match[0], text, start))
      spans.push({ start, end: start + match[0].length });
  }
  return spans;
}

export function ruleDetector(name: DetectorName, rules: readonly Rule[]): PatternDetector {
  return {
    name,
    maxLength: Math.max(...rules.map((rule) => rule.maxLength)),
    find: (text, from, to) => rules.flatMap((rule) => ruleSpans(rule, text, from, to)),
  };
}

/** The last `count` words (lower-cased, oldest first) in the 40 characters before `index`. */
export function wordsBefore(text: string, index: number, count: number): string[] {
  const words = text.slice(Math.max(0, index - 40), index).match(/[A-Za-z']+/g) ?? [];
  return words.slice(-count).map((word) => word.toLowerCase());
}

/** Whether the value holds `min` or more letters and digits in a row, mixing both, as generated secrets do. */
export function hasRandomRun(value: string, min = 16): boolean {
  return value
    .split(/[^A-Za-z0-9]+/)
    .some((run) => run.length >= min && /\d/.test(run) && /[A-Za-z]/.test(run));
}
