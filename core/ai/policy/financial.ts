/** `card` and `iban`. */
import { ibanChecksumValid, luhnValid } from './checksums.ts';
import { matchesStartingIn, ruleDetector } from './rules.ts';
import type { PatternDetector, Span } from './types.ts';

interface CardScheme {
  /** Inclusive IIN ranges, both ends with the same number of digits. */
  readonly ranges: readonly (readonly [string, string])[];
  readonly lengths: readonly number[];
}

const upTo19 = (shortest: number) => Array.from({ length: 20 - shortest }, (_, index) => shortest + index);

const cardSchemes: Record<string, CardScheme> = {
  visa: { ranges: [['4', '4']], lengths: [13, 16, 19] },
  mastercard: {
    ranges: [
      ['51', '55'],
      ['2221', '2720'],
    ],
    lengths: [16],
  },
  amex: {
    ranges: [
      ['34', '34'],
      ['37', '37'],
    ],
    lengths: [15],
  },
  discover: {
    ranges: [
      ['6011', '6011'],
      ['644', '649'],
      ['65', '65'],
      ['622126', '622925'],
    ],
    lengths: upTo19(16),
  },
  jcb: { ranges: [['3528', '3589']], lengths: upTo19(16) },
  diners: {
    ranges: [
      ['300', '305'],
      ['3095', '3095'],
      ['36', '36'],
      ['38', '39'],
    ],
    lengths: upTo19(14),
  },
  unionpay: { ranges: [['62', '62']], lengths: upTo19(16) },
  maestro: {
    ranges: [
      ['5018', '5018'],
      ['5020', '5020'],
      ['5038', '5038'],
      ['5893', '5893'],
      ['6304', '6304'],
      ['6759', '6759'],
      ['6761', '6763'],
    ],
    lengths: upTo19(13),
  },
  mir: { ranges: [['2200', '2204']], lengths: upTo19(16) },
};

const inRange = (digits: string, [low, high]: readonly [string, string]) => {
  const prefix = Number(digits.slice(0, low.length));
  return prefix >= Number(low) && prefix <= Number(high);
};

const knownIssuer = (digits: string) =>
  Object.values(cardSchemes).some(
    (scheme) =>
      scheme.lengths.includes(digits.length) && scheme.ranges.some((range) => inRange(digits, range)),
  );

const validCard = (value: string) => {
  const digits = value.replace(/\D/g, '');
  return new Set(value.match(/[ -]/g)).size <= 1 && luhnValid(digits) && knownIssuer(digits);
};

/**
 * The longest valid card number the match starts with, cut at a separator: "4111 1111 1111 1111 12/28"
 * is a card number followed by its expiry month.
 */
function validCardLength(value: string): number {
  for (let candidate = value; candidate.replace(/\D/g, '').length >= 13; ) {
    if (validCard(candidate)) return candidate.length;
    const lastSeparator = candidate.search(/[ -]\d*$/);
    if (lastSeparator === -1) return 0;
    candidate = candidate.slice(0, lastSeparator);
  }
  return 0;
}

// 13 to 19 digits, optionally grouped, not part of a longer number or a decimal (a comma is let
// through: CSV fields are far more common than "1,4111…").
const CARD_CANDIDATE = /(?<!\d[ -]?|\d\.)\d(?:[ -]?\d){12,18}(?![ -]?\d|\.\d)/g;

export const card: PatternDetector = {
  name: 'card',
  maxLength: 37,
  find(text, from, to) {
    const spans: Span[] = [];
    for (const match of matchesStartingIn(CARD_CANDIDATE, text, from, to)) {
      const length = validCardLength(match[0]);
      if (length > 0) spans.push({ start: match.index, end: match.index + length });
    }
    return spans;
  },
};

/** IBAN length per country (country code and length), from the SWIFT IBAN registry (ISO 13616). */
const ibanLengths = new Map(
  (
    'AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DJ27 DK18 DO28 ' +
    'EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HN28 HR21 HU28 IE22 IL23 IQ23 IS26 ' +
    'IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 MK19 MN20 MR27 MT31 MU30 NI28 ' +
    'NL18 NO15 OM23 PK24 PL28 PS29 PT25 QA29 RO24 RS22 RU33 SA24 SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25 ' +
    'SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20 YE30'
  )
    .split(' ')
    .map((entry) => [entry.slice(0, 2), Number(entry.slice(2))] as const),
);

/**
 * One alternative per length: its countries, check digits, then exactly the rest, single spaces allowed;
 * in either case, as people also type them in lower case.
 */
function ibanPattern(): RegExp {
  const countriesByLength = Map.groupBy(ibanLengths, ([, length]) => length);
  const alternatives = [...countriesByLength].map(
    ([length, entries]) =>
      `(?:${entries.map(([country]) => country).join('|')})\\d{2}(?: ?[A-Z0-9]){${length - 4}}`,
  );
  return new RegExp(`(?<![A-Za-z0-9])(?:${alternatives.join('|')})(?![A-Za-z0-9])`, 'gi');
}

const longestIban = Math.max(...ibanLengths.values());

export const iban = ruleDetector('iban', [
  {
    regex: ibanPattern(),
    maxLength: longestIban * 2,
    accept: (value) => ibanChecksumValid(value.replaceAll(' ', '').toUpperCase()),
  },
]);
