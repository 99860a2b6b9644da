import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createStreamScanner,
  type DetectorName,
  detect,
  detectorNames,
  excerptOf,
  type Finding,
  redact,
} from '../../core/ai/policy/detectors.ts';
import { BASE64, type LabelledSample, policyCorpus, synthetic } from '../fixtures/policy-corpus.ts';

const MIN_PRECISION = 0.95;
const MIN_RECALL = 0.95;
const resultsPath = path.resolve(import.meta.dirname, '../../bench/results/policy-detectors.json');

const findingKey = ({ detector, start, end }: Finding) => `${detector}@${start}-${end}`;
const ratio = (part: number, whole: number) =>
  whole === 0 ? 1 : Math.round((part / whole) * 10_000) / 10_000;

interface Score {
  tp: number;
  fp: number;
  fn: number;
  precision: number;
  recall: number;
  /** Corpus samples written for this detector (positives and near-misses). */
  samples: number;
  positives: number;
  nearMisses: number;
}

/** Finding-level scores: a finding counts only with the right detector, start and end. */
function scoreCorpus(corpus: readonly LabelledSample[]): Record<DetectorName, Score> {
  const counts = Object.fromEntries(detectorNames.map((name) => [name, { tp: 0, fp: 0, fn: 0 }])) as Record<
    DetectorName,
    { tp: number; fp: number; fn: number }
  >;
  for (const sample of corpus) {
    const found = detect(sample.text);
    const foundKeys = new Set(found.map(findingKey));
    const expectedKeys = new Set(sample.expected.map(findingKey));
    for (const finding of found)
      counts[finding.detector][expectedKeys.has(findingKey(finding)) ? 'tp' : 'fp']++;
    for (const finding of sample.expected)
      if (!foundKeys.has(findingKey(finding))) counts[finding.detector].fn++;
  }
  return Object.fromEntries(
    detectorNames.map((name) => {
      const { tp, fp, fn } = counts[name];
      const positives = corpus.filter(
        (sample) => sample.target === name && sample.kind === 'positive',
      ).length;
      const nearMisses = corpus.filter(
        (sample) => sample.target === name && sample.kind === 'near-miss',
      ).length;
      const score = { tp, fp, fn, precision: ratio(tp, tp + fp), recall: ratio(tp, tp + fn) };
      return [name, { ...score, samples: positives + nearMisses, positives, nearMisses }];
    }),
  ) as Record<DetectorName, Score>;
}

/** Every difference between detect() and the labels, readable in a failure message. */
function mismatches(name: DetectorName): string[] {
  return policyCorpus.flatMap((sample) => {
    const actual = detect(sample.text).filter((finding) => finding.detector === name);
    const expected = sample.expected.filter((finding) => finding.detector === name);
    const actualKeys = new Set(actual.map(findingKey));
    const expectedKeys = new Set(expected.map(findingKey));
    return [
      ...actual.filter((finding) => !expectedKeys.has(findingKey(finding))).map(({ value }) => `FP ${value}`),
      ...expected.filter((finding) => !actualKeys.has(findingKey(finding))).map(({ value }) => `FN ${value}`),
    ];
  });
}

function streamed(deltas: readonly string[], detectors?: DetectorName[]) {
  const scanner = createStreamScanner(detectors);
  const findings: Finding[] = [];
  let maxRetained = 0;
  for (const delta of deltas) {
    findings.push(...scanner.push(delta));
    maxRetained = Math.max(maxRetained, scanner.retainedChars);
  }
  findings.push(...scanner.end());
  return { findings, maxRetained };
}

/** Deterministic chunk sizes from 1 to `max`. */
function chunked(text: string, max: number, seed = 1): string[] {
  const chunks: string[] = [];
  let state = seed;
  for (let index = 0; index < text.length; ) {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    const size = 1 + (state % max);
    chunks.push(text.slice(index, index + size));
    index += size;
  }
  return chunks;
}

const HARMLESS_SENTENCES = [
  'Release 4.18.2 shipped on 2024-03-15 with 1,234 fixes; see chapter 12 for the details. ',
  'The quick brown fox jumps over the lazy dog while the build runs in 42.7 seconds. ',
  'Please ignore the noise in the logs, the retries (3 of 5) are expected at 09:30. ',
  'Order 1234 5678 9012 3452 and version 10.0.19045.3803 are not secrets at all. ',
  'Upgrade from v1.2.3-rc.4 to 2.0.0 and restart the workers on port 8080 tonight. ',
];
const harmlessText = (length: number) =>
  Array.from({ length: Math.ceil(length / 80) }, (_, index) => HARMLESS_SENTENCES[index % 5])
    .join('')
    .slice(0, length);

const firstPositive = (name: DetectorName) =>
  policyCorpus.find(
    (sample) => sample.target === name && sample.kind === 'positive' && sample.text.length < 300,
  );

describe('policy detectors: precision and recall on the labelled corpus', () => {
  const scores = scoreCorpus(policyCorpus);

  it('has at least 15 positives and 15 near-misses per detector, labelled consistently', () => {
    for (const name of detectorNames) {
      expect(scores[name].positives, name).toBeGreaterThanOrEqual(15);
      expect(scores[name].nearMisses, name).toBeGreaterThanOrEqual(15);
    }
    for (const sample of policyCorpus) {
      const ownFindings = sample.expected.filter((finding) => finding.detector === sample.target).length;
      if (sample.kind === 'positive') expect(ownFindings, sample.text).toBeGreaterThan(0);
      if (sample.kind === 'near-miss') expect(ownFindings, sample.text).toBe(0);
    }
    expect(policyCorpus.filter((sample) => sample.kind === 'mixed').length).toBeGreaterThanOrEqual(8);
  });

  it('writes the measured table to bench/results/policy-detectors.json', async () => {
    const count = (kind: LabelledSample['kind']) =>
      policyCorpus.filter((sample) => sample.kind === kind).length;
    const report = {
      corpus: {
        samples: policyCorpus.length,
        positives: count('positive'),
        nearMisses: count('near-miss'),
        mixed: count('mixed'),
      },
      thresholds: { precision: MIN_PRECISION, recall: MIN_RECALL },
      detectors: scores,
    };
    await mkdir(path.dirname(resultsPath), { recursive: true });
    await writeFile(resultsPath, `${JSON.stringify(report, null, 2)}\n`);
  });

  it.each(detectorNames)('%s: precision ≥ 0.95 and recall ≥ 0.95', (name) => {
    const { precision, recall } = scores[name];
    const details = mismatches(name).join('\n');
    expect(precision, details).toBeGreaterThanOrEqual(MIN_PRECISION);
    expect(recall, details).toBeGreaterThanOrEqual(MIN_RECALL);
  });

  it('runs a chosen subset of detectors only', () => {
    const text = 'Mail alice@example.com, card 4111 1111 1111 1111.';
    expect(detect(text, ['card']).map((finding) => finding.detector)).toEqual(['card']);
    expect(detect(text, [])).toEqual([]);
  });

  it('reports sorted findings that never overlap', () => {
    for (const sample of policyCorpus) {
      const findings = detect(sample.text);
      for (const [index, finding] of findings.entries()) {
        expect(finding.value).toBe(sample.text.slice(finding.start, finding.end));
        if (index > 0) expect(finding.start).toBeGreaterThanOrEqual(findings[index - 1]?.end ?? 0);
      }
    }
  });
});

describe('redact and excerptOf', () => {
  const text =
    'Mail alice@example.com or call +44 20 7946 0958; card 4111 1111 1111 1111, IBAN GB82 WEST 1234 5698 7654 32, SSN 123-45-6789, key AKIAIOSFODNN7EXAMPLE.';

  it('replaces each finding with its detector name', () => {
    expect(redact(text, detect(text))).toBe(
      'Mail [REDACTED:email] or call [REDACTED:phone]; card [REDACTED:card], IBAN [REDACTED:iban], SSN [REDACTED:national-id], key [REDACTED:api-key].',
    );
    expect(redact(text, [])).toBe(text);
  });

  it('leaves none of the values it found in the corpus', () => {
    for (const sample of policyCorpus) {
      const findings = detect(sample.text);
      const redacted = redact(sample.text, findings);
      expect(redacted.match(/\[REDACTED:[a-z-]+\]/g) ?? []).toHaveLength(findings.length);
      for (const { value } of findings) expect(redacted).not.toContain(value);
    }
  });

  it('keeps only a masked hint of each value', () => {
    expect(detect(text).map(excerptOf)).toEqual([
      'a***@example.com',
      '+** ** **** **58',
      '41** **** **** **11',
      'GB** **** **** **** **** 32',
      '***-**-**89',
      'AK********LE',
    ]);
    const [key] = detect(
      '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5\n-----END EC PRIVATE KEY-----',
    );
    expect(key && excerptOf(key)).toBe('-----BEGIN EC PRIVATE KEY----- …');
  });

  it('never stores a secret in an excerpt', () => {
    for (const sample of policyCorpus)
      for (const finding of detect(sample.text)) {
        if (finding.detector === 'prompt-injection') continue;
        // A private key's BEGIN marker is kept on purpose; what follows it is the secret.
        const secret = finding.value.replace(/^-----BEGIN [A-Z0-9 ]+-----/, '');
        if (secret.trim() !== '') expect(excerptOf(finding)).not.toContain(secret);
      }
  });
});

describe('stream scanner', () => {
  const PAD = harmlessText(6_000);
  const splitSamples = [
    ...detectorNames.map(firstPositive),
    ...policyCorpus.filter((sample) => sample.kind === 'mixed'),
  ]
    .filter((sample) => sample !== undefined)
    .map((sample) => sample.text);

  it('reports what detect() reports whatever the split, for values split at every boundary', () => {
    for (const text of splitSamples) {
      const expected = detect(text);
      for (let cut = 0; cut <= text.length; cut++)
        expect(streamed([text.slice(0, cut), text.slice(cut)]).findings, `cut at ${cut}`).toEqual(expected);
    }
  });

  it('reports each value exactly once when it arrives deep into a stream, split anywhere', () => {
    for (const sample of splitSamples) {
      const text = `${PAD}\n${sample}\n${PAD}`;
      const expected = detect(text);
      expect(expected.length).toBeGreaterThan(0);
      for (let cut = PAD.length - 4; cut <= PAD.length + sample.length + 5; cut++) {
        const { findings } = streamed([text.slice(0, cut), text.slice(cut, cut + 3), text.slice(cut + 3)]);
        expect(findings, `cut at ${cut}`).toEqual(expected);
      }
      expect(streamed([...text]).findings).toEqual(expected);
    }
  });

  it('matches detect() on the whole corpus streamed in chunks of any size', () => {
    const text = policyCorpus.map((sample) => sample.text).join('\n\n');
    const expected = detect(text);
    for (const max of [1, 7, 64, 1_000, 50_000])
      expect(streamed(chunked(text, max, max)).findings).toEqual(expected);
    expect(streamed(chunked(text, 64), ['email', 'private-key']).findings).toEqual(
      detect(text, ['email', 'private-key']),
    );
  });

  it('keeps a bounded tail over 5 MB of harmless text', () => {
    const text = harmlessText(5 * 1024 * 1024);
    const { findings, maxRetained } = streamed(chunked(text, 64));
    expect(findings).toEqual([]);
    expect(maxRetained).toBeLessThanOrEqual(8 * 1024);
  });

  it('follows a private key longer than the tail and flags a lone BEGIN marker', () => {
    const body = Array.from({ length: 120 }, (_, line) => synthetic(line, 64, BASE64));
    const key = `-----BEGIN RSA PRIVATE KEY-----\n${body.join('\n')}\n-----END RSA PRIVATE KEY-----`;
    const text = `${PAD}${key}\n${PAD}-----BEGIN OPENSSH PRIVATE KEY-----`;
    const { findings, maxRetained } = streamed(chunked(text, 16));
    expect(findings.map(({ detector, start, end }) => ({ detector, start, end }))).toEqual([
      { detector: 'private-key', start: PAD.length, end: PAD.length + key.length },
      { detector: 'private-key', start: text.length - 35, end: text.length },
    ]);
    expect(findings).toEqual(detect(text));
    expect(maxRetained).toBeLessThanOrEqual(24 * 1024);
  });

  it('refuses deltas after the end', () => {
    const scanner = createStreamScanner();
    expect(scanner.end()).toEqual([]);
    expect(() => scanner.push('more')).toThrow(/after end/);
  });
});

describe('detection cost stays linear', () => {
  const adversarial: Record<string, (length: number) => string> = {
    prose: harmlessText,
    digits: (length) => '1'.repeat(length),
    'letters then @': (length) => `${'a'.repeat(length - 1)}@`,
    '@ then letters': (length) => `@${'a'.repeat(length - 1)}`,
    'dotted labels': (length) => `x@${'a.'.repeat(length / 2 - 1)}`,
    'x@ repeated': (length) => 'x@'.repeat(length / 2),
    'spaced digits': (length) => '1 '.repeat(length / 2),
    'dashed digits': (length) => '1-'.repeat(length / 2),
    'plus one': (length) => '+1 '.repeat(length / 3),
    'trunk groups': (length) => '0612 '.repeat(length / 5),
    'IBAN-like groups': (length) => 'AB12 '.repeat(length / 5),
    'PEM markers': (length) => '-----BEGIN PRIVATE KEY-----'.repeat(length / 27),
    'PEM without end': (length) => `-----BEGIN PRIVATE KEY-----\n${'A'.repeat(length)}`,
    'ignore all': (length) => 'ignore all '.repeat(length / 11),
    'eyJ run': (length) => `eyJ${'a'.repeat(length)}`,
    'sk- run': (length) => `sk-${'a1'.repeat(length / 2)}`,
    'Bearer run': (length) => `Bearer ${'a1'.repeat(length / 2)}`,
    'base64 run': (length) => synthetic(3, length, BASE64),
  };

  const fastest = (run: () => void) => {
    let best = Number.POSITIVE_INFINITY;
    for (let round = 0; round < 3; round++) {
      const started = performance.now();
      run();
      best = Math.min(best, performance.now() - started);
    }
    return best;
  };

  it.each(Object.keys(adversarial))('%s: 1 MB within 2 s and about 4× the time of 256 KB', (name) => {
    const make = adversarial[name] ?? harmlessText;
    const small = make(256 * 1024);
    const large = make(1024 * 1024);
    const smallMs = fastest(() => detect(small));
    const largeMs = fastest(() => detect(large));
    expect(largeMs).toBeLessThan(2_000);
    // Linear is 4×; the slack absorbs timer and garbage-collector noise, a quadratic pass would be 16×.
    expect(largeMs).toBeLessThan(10 * smallMs + 50);
  });
});
