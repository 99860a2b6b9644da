/**
 * `national-id`: three numbering schemes with published structure rules.
 * - US Social Security number, ddd-dd-dddd (dashes only), without the never-issued area numbers
 *   000, 666 and 900–999, group 00 or serial 0000.
 * - UK National Insurance number, e.g. AB 12 34 56 C or AB123456C, with HMRC's prefix rules
 *   (no D, F, I, Q, U, V; no O second; no BG, GB, KN, NK, NT, TN, ZZ) and suffix A–D.
 * - French NIR (numéro de sécurité sociale), 13 digits and a 2-digit key that must match
 *   (97 − number mod 97), written run together or grouped 1 84 12 76 451 089 46.
 */
import { nirKey } from './checksums.ts';
import { type Rule, ruleDetector } from './rules.ts';

const spacedEverywhereOrNowhere = (value: string, groups: number) => {
  const spaces = value.split(' ').length - 1;
  return spaces === 0 || spaces === groups - 1;
};

const usSocialSecurityNumber: Rule = {
  regex: /(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w]|-\d)/g,
  maxLength: 11,
};

const ukNationalInsuranceNumber: Rule = {
  regex:
    /(?<![A-Za-z0-9])(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z](?: ?\d{2}){3} ?[A-D](?![A-Za-z0-9])/g,
  maxLength: 13,
  accept: (value) => spacedEverywhereOrNowhere(value, 5),
};

const frenchNir: Rule = {
  // Sex (1, 2, or 3, 4, 7, 8 for provisional numbers), year, month (01–12, or 20+ when unknown),
  // department (2A/2B for Corsica), commune, birth order, key.
  regex: /(?<!\w)[1-478] ?\d{2} ?(?:0[1-9]|1[0-2]|[2-9]\d) ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}(?!\w)/g,
  maxLength: 21,
  accept: (value) => {
    const compact = value.replaceAll(' ', '');
    return spacedEverywhereOrNowhere(value, 7) && nirKey(compact.slice(0, 13)) === Number(compact.slice(13));
  },
};

export const nationalId = ruleDetector('national-id', [
  usSocialSecurityNumber,
  ukNationalInsuranceNumber,
  frenchNir,
]);
