/** Check digits of the numbers the detectors validate. */

/** Luhn (ISO/IEC 7812) over a string of digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let index = 0; index < digits.length; index++) {
    let digit = Number(digits[digits.length - 1 - index]);
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/** ISO 7064 MOD 97-10 as ISO 13616 applies it: country and check digits moved to the end, letters as 10–35. */
export function ibanChecksumValid(iban: string): boolean {
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const char of rearranged) {
    const value = Number.parseInt(char, 36);
    remainder = (remainder * (value > 9 ? 100 : 10) + value) % 97;
  }
  return remainder === 1;
}

/**
 * French NIR key: 97 minus the 13-digit number modulo 97, Corsican departments 2A and 2B counted as
 * 19 and 18. Thirteen digits stay well inside Number's exact integer range.
 */
export function nirKey(first13: string): number {
  const numeric = first13.replace('2A', '19').replace('2B', '18');
  return 97 - (Number(numeric) % 97);
}
