/** `email` and `phone`. */
import { type Rule, ruleDetector, wordsBefore } from './rules.ts';
import type { PatternDetector, Span } from './types.ts';

const LOCAL_MAX = 64;
const DOMAIN_MAX = 253;
// The practical address alphabet, not RFC 5322's: quotes, braces and backticks are prose punctuation far
// more often than parts of an address. Letters are Latin-script ones (josé@, bücher.example): Chinese or
// Japanese text runs into an address without a space, and must not be taken as part of it.
const LATIN_LETTER = /\p{Script=Latin}/u;
// ASCII first: the Unicode property test is the slow path.
const isLocalChar = (char: string) =>
  /[A-Za-z0-9._%+-]/.test(char) || (char > '\x7f' && LATIN_LETTER.test(char));
const isDomainChar = (char: string) =>
  /[A-Za-z0-9.-]/.test(char) || (char > '\x7f' && LATIN_LETTER.test(char));
const DOMAIN_LABEL = /^[\p{Script=Latin}0-9](?:[\p{Script=Latin}0-9-]{0,61}[\p{Script=Latin}0-9])?$/u;
const TOP_LEVEL_DOMAIN = /^(?:\p{Script=Latin}{2,63}|xn--[A-Za-z0-9-]{1,59})$/u;

function localPartStart(text: string, at: number): number | null {
  let start = at;
  while (start > 0 && at - start <= LOCAL_MAX && isLocalChar(text[start - 1] ?? '')) start--;
  if (at - start > LOCAL_MAX) return null;
  // "${ADMIN_EMAIL:-admin@example.com}": leading punctuation belongs to the surrounding text.
  while (start < at && /[.%+-]/.test(text[start] ?? '')) start++;
  const local = text.slice(start, at);
  return local.length > 0 && !local.endsWith('.') && !local.includes('..') ? start : null;
}

function domainEnd(text: string, at: number): number | null {
  let end = at + 1;
  while (end < text.length && end - at <= DOMAIN_MAX + 1 && isDomainChar(text[end] ?? '')) end++;
  if (end - at - 1 > DOMAIN_MAX) return null;
  // A sentence's full stop (or a dash) after the address is not part of it.
  while (end > at + 1 && /[.-]/.test(text[end - 1] ?? '')) end--;
  const labels = text.slice(at + 1, end).split('.');
  const valid =
    labels.length >= 2 &&
    labels.every((label) => DOMAIN_LABEL.test(label)) &&
    TOP_LEVEL_DOMAIN.test(labels.at(-1) ?? '');
  return valid ? end : null;
}

/** `https://user:token@host` holds credentials and a host, not an address. */
const inUrlAuthority = (text: string, start: number) =>
  /\/\/[^\s/@]*$/.test(text.slice(Math.max(0, start - LOCAL_MAX - 2), start));

/** Anchored on each `@`, so a long run of address characters costs at most LOCAL_MAX + DOMAIN_MAX steps. */
export const email: PatternDetector = {
  name: 'email',
  maxLength: LOCAL_MAX + 1 + DOMAIN_MAX,
  find(text, from, to) {
    const spans: Span[] = [];
    for (
      let at = text.indexOf('@', from + 1);
      at !== -1 && at <= to + LOCAL_MAX;
      at = text.indexOf('@', at + 1)
    ) {
      const start = localPartStart(text, at);
      if (start === null || start < from || start >= to) continue;
      const end = domainEnd(text, at);
      if (end !== null && !inUrlAuthority(text, start)) spans.push({ start, end });
    }
    return spans;
  },
};

// Words that make a number an identifier rather than a phone number: "Order 0612 3456 78", "invoice no. …".
const identifierNouns = new Set(
  (
    'order invoice ref reference tracking transaction txn isbn sku serial version build ticket case ' +
    'account acct customer iban ssn passport release part model batch lot receipt booking confirmation ' +
    'policy claim id'
  ).split(' '),
);
const numberWords = new Set('no nr num number code'.split(' '));

// The tail of an IBAN-like run of groups ("NL91 ABNA 0417 1643 01") is not a phone number either.
const IBAN_LIKE_GROUPS_BEFORE = /\b[A-Z]{2}\d{2}(?: [A-Z0-9]{4}){0,7} $/;

function looksLikeIdentifier(text: string, start: number): boolean {
  if (IBAN_LIKE_GROUPS_BEFORE.test(text.slice(Math.max(0, start - 40), start))) return true;
  const words = wordsBefore(text, start, 2);
  const last = words.at(-1);
  const previous = words.length === 2 ? words[0] : undefined;
  if (last === undefined) return false;
  if (identifierNouns.has(last)) return true;
  return numberWords.has(last) && previous !== undefined && identifierNouns.has(previous);
}

const digitCount = (value: string) => value.replace(/\D/g, '').length;
/** Separators between digit groups, a closing parenthesis's optional space aside. */
const separators = (value: string) => value.replace(/^[^(]*\(\d+\) ?/, '').match(/[ .-]/g) ?? [];
const oneSeparatorKind = (value: string) => new Set(separators(value)).size <= 1;

// E.164 with a leading +: country code and subscriber number, 8 to 15 digits, optionally grouped and
// with the area code in parentheses, e.g. +1 (415) 555-0132, +44 (0)20 7946 0958, +33 6 12 34 56 78;
// not an addition in code, as in `(x << 16)+16777216`.
const international: Rule = {
  regex:
    /(?<![\w+)\]])\+[1-9]\d{0,14}(?:[ .-]?\(\d{1,5}\)[ .-]?\d{1,6})?(?:[ .-]\d{1,6}){0,7}(?![\w]|[.-]\d)/g,
  maxLength: 96,
  accept: (value, text, start) => {
    const digits = digitCount(value.replace('(0)', ''));
    return digits >= 8 && digits <= 15 && !looksLikeIdentifier(text, start);
  },
};

// North American numbering plan: area code and exchange start with 2–9, e.g. (415) 555-0132,
// 415.555.0132, 1-800-555-0199. Ten digits run together are too ambiguous to report.
const northAmerican: Rule = {
  regex:
    /(?<![\w+]|\w[.-]|\d )(?:1[ .-]?)?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .-])[2-9]\d{2}[ .-]\d{4}(?![\w]|[.-]\d)/g,
  maxLength: 20,
  accept: (value, text, start) =>
    oneSeparatorKind(value.replace(/^1[ .-]?(?=[(\d])/, '')) && !looksLikeIdentifier(text, start),
};

// National numbers behind a trunk 0, grouped with one kind of separator and 9 to 11 digits:
// 06 12 34 56 78, 01.23.45.67.89, 020 7946 0958, (020) 7946 0958, 07700 900123, 030 901820;
// not the start of a MAC address or a hex dump (01 02 03 04 05 ab).
const trunkPrefixed: Rule = {
  regex:
    /(?<![\w+]|\w[.-]|\d )(?:\(0[1-9]\d{0,3}\) ?|0[1-9]\d{0,3}[ .-])\d{2,6}(?:[ .-]\d{2,6}){0,4}(?![\w]|[ .-]\d|[ .:-][0-9A-Fa-f]{2}\b)/g,
  maxLength: 48,
  accept: (value, text, start) => {
    const digits = digitCount(value);
    return digits >= 9 && digits <= 11 && oneSeparatorKind(value) && !looksLikeIdentifier(text, start);
  },
};

export const phone = ruleDetector('phone', [international, northAmerican, trunkPrefixed]);
