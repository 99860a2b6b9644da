/** What a violation record may keep of a finding: enough to recognise it, never the secret itself. */
import type { DetectorName, Finding } from './types.ts';

const EXCERPT_MAX = 80;

/** Replaces letters and digits with `*`, but for the first `keepFirst` and last `keepLast` of them. */
function maskAlphanumerics(value: string, keepFirst: number, keepLast: number): string {
  const total = value.replace(/[^A-Za-z0-9]/g, '').length;
  let seen = 0;
  return value.replace(/[A-Za-z0-9]/g, (char) => {
    seen++;
    return seen <= keepFirst || seen > total - keepLast ? char : '*';
  });
}

/** Two characters each end, the middle as a fixed run of stars so the length stays unknown. */
const maskMiddle = (value: string) => `${value.slice(0, 2)}********${value.slice(-2)}`;

function maskEmail(value: string): string {
  const at = value.lastIndexOf('@');
  return `${value.slice(0, 1)}***${value.slice(at)}`;
}

const excerpts: Record<DetectorName, (value: string) => string> = {
  email: maskEmail,
  phone: (value) => maskAlphanumerics(value, 0, 2),
  card: (value) => maskAlphanumerics(value, 2, 2),
  iban: (value) => maskAlphanumerics(value, 2, 2),
  'national-id': (value) => maskAlphanumerics(value, 0, 2),
  'api-key': maskMiddle,
  // The BEGIN marker says what kind of key it was and is not secret.
  'private-key': (value) => `${value.slice(0, value.indexOf('-----', 5) + 5)} …`,
  // Not a secret: the phrase itself, shortened.
  'prompt-injection': (value) => value.replace(/\s+/g, ' ').slice(0, EXCERPT_MAX),
};

export const excerptOf = (finding: Finding): string => excerpts[finding.detector](finding.value);
