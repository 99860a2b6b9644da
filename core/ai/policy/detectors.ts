/**
 * Built-in AI policy detectors: sensitive values and prompt injection in prompts and responses.
 * Pure functions over strings; offsets are UTF-16 indices. See types.ts for the detector names,
 * and each detector's module for what exactly it recognises.
 */
import { byPosition, candidatesIn, keepNonOverlapping, selectPatternDetectors } from './engine.ts';
import { privateKeyBlocks } from './pem.ts';
import { type DetectorName, detectorNames, type Finding } from './types.ts';

export { excerptOf } from './excerpt.ts';
export { createStreamScanner, type StreamScanner } from './stream-scanner.ts';
export { type DetectorName, detectorNames, type Finding } from './types.ts';

/** Findings of the given detectors (all by default), sorted and never overlapping. */
export function detect(text: string, detectors: readonly DetectorName[] = detectorNames): Finding[] {
  const privateKeys = detectors.includes('private-key')
    ? privateKeyBlocks(text).map(({ start, end }) => ({
        detector: 'private-key' as const,
        start,
        end,
        value: text.slice(start, end),
      }))
    : [];
  const candidates = candidatesIn(text, selectPatternDetectors(detectors), 0, text.length);
  return [...keepNonOverlapping(candidates, privateKeys), ...privateKeys].sort(byPosition);
}

/** The text with each finding replaced by `[REDACTED:<detector>]`; overlapping findings after the first are skipped. */
export function redact(text: string, findings: readonly Finding[]): string {
  let redacted = '';
  let copiedUntil = 0;
  for (const finding of findings.toSorted(byPosition)) {
    if (finding.start < copiedUntil) continue;
    redacted += `${text.slice(copiedUntil, finding.start)}[REDACTED:${finding.detector}]`;
    copiedUntil = finding.end;
  }
  return redacted + text.slice(copiedUntil);
}
