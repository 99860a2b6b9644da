/** What detect() and the stream scanner share: the detectors by name, and how overlapping findings are settled. */
import { email, phone } from './contact.ts';
import { card, iban } from './financial.ts';
import { nationalId } from './national-id.ts';
import { promptInjection } from './prompt-injection.ts';
import { apiKey } from './secrets.ts';
import type { DetectorName, Finding, PatternDetector, Span } from './types.ts';

const patternDetectors: Record<Exclude<DetectorName, 'private-key'>, PatternDetector> = {
  email,
  phone,
  card,
  iban,
  'national-id': nationalId,
  'api-key': apiKey,
  'prompt-injection': promptInjection,
};

export function selectPatternDetectors(names: readonly DetectorName[]): PatternDetector[] {
  return [...new Set(names)].flatMap((name) => (name === 'private-key' ? [] : [patternDetectors[name]]));
}

/** When two findings start and end together, the more specific detector names it. */
const precedence: readonly DetectorName[] = [
  'private-key',
  'api-key',
  'card',
  'iban',
  'national-id',
  'email',
  'phone',
  'prompt-injection',
];

export const byPosition = (a: Finding, b: Finding) =>
  a.start - b.start || b.end - a.end || precedence.indexOf(a.detector) - precedence.indexOf(b.detector);

/** Candidate findings starting in [from, to) of `text`, with offsets shifted by `base`. */
export function candidatesIn(
  text: string,
  detectors: readonly PatternDetector[],
  from: number,
  to: number,
  base = 0,
): Finding[] {
  return detectors.flatMap(({ name, find }) =>
    find(text, from, to).map(({ start, end }) => ({
      detector: name,
      start: base + start,
      end: base + end,
      value: text.slice(start, end),
    })),
  );
}

/**
 * The candidates kept among overlapping ones: nothing overlapping a private key block, then the
 * leftmost, the longer of two starting together, the more specific detector on a tie. Candidates
 * starting before `keptUntil` (the end of findings already reported) are dropped.
 */
export function keepNonOverlapping(
  candidates: Finding[],
  privateKeys: readonly Span[],
  keptUntil = 0,
): Finding[] {
  const kept: Finding[] = [];
  let end = keptUntil;
  let keyIndex = 0;
  for (const candidate of candidates.toSorted(byPosition)) {
    if (candidate.start < end) continue;
    while ((privateKeys[keyIndex]?.end ?? Number.POSITIVE_INFINITY) <= candidate.start) keyIndex++;
    if ((privateKeys[keyIndex]?.start ?? Number.POSITIVE_INFINITY) < candidate.end) continue;
    kept.push(candidate);
    end = candidate.end;
  }
  return kept;
}
