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

/** A sample's findings against its labels; a finding counts only with the right detector, start and end. */
function compare(sample: LabelledSample) {
  const found = detect(sample.text);
  const foundKeys = new Set(found.map(findingKey));
  const expectedKeys = new Set(sample.expected.map(findingKey));
  return {
    truePositives: found.filter((finding) => expectedKeys.has(findingKey(finding))),
    falsePositives: found.filter((finding) => !expectedKeys.has(findingKey(finding))),
    falseNegatives: sample.expected.filter((finding) => !foundKeys.has(findingKey(finding))),
  };
}

const comparisons = policyCorpus.map(compare);
const ofDetector = (name: DetectorName, findings: readonly Finding[]) =>
  findings.filter((finding) => finding.detector === name);

function score(name: DetectorName): Score {
  const count = (pick: (comparison: ReturnType<typeof compare>) => readonly Finding[]) =>
    comparisons.reduce((sum, comparison) => sum + ofDetector(name, pick(comparison)).length, 0);
  const tp = count((comparison) => comparison.truePositives);
  const fp = count((comparison) => comparison.falsePositives);
  const fn = count((comparison) => comparison.falseNegatives);
  const samplesOf = (kind: LabelledSample['kind']) =>
    policyCorpus.filter((sample) => sample.target === name && sample.kind === kind).length;
  const [positives, nearMisses] = [samplesOf('positive'), samplesOf('near-miss')];
  const [precision, recall] = [ratio(tp, tp + fp), ratio(tp, tp + fn)];
  return { tp, fp, fn, precision, recall, samples: positives + nearMisses, positives, nearMisses };
}

/** Every difference between detect() and the labels, readable in a failure message. */
const mismatches = (name: DetectorName) =>
  comparisons.flatMap(({ falsePositives, falseNegatives }) => [
    ...ofDetector(name, falsePositives).map(({ value }) => `FP ${value}`),
    ...ofDetector(name, falseNegatives).map(({ value }) => `FN ${value}`),
  ]);

/**
 * What the stream scanner should report for a text: detect()'s findings, a private key as its
 * BEGIN marker alone (reported as soon as the marker arrives).
 */
function expectedInStream(text: string, detectors?: DetectorName[]): Finding[] {
  return detect(text, detectors).map((finding) => {
    if (finding.detector !== 'private-key') return finding;
    const value = finding.value.slice(0, finding.value.indexOf('-----', 5) + 5);
    return { ...finding, end: finding.start + value.length, value };
  });
}

/** The findings of a stream in the order of the text (a private key's marker may come before earlier findings). */
function streamed(deltas: readonly string[], detectors?: DetectorName[]) {
  const scanner = createStreamScanner(detectors);
  const findings: Finding[] = [];
  let maxRetained = 0;
  for (const delta of deltas) {
    findings.push(...scanner.push(delta));
    maxRetained = Math.max(maxRetained, scanner.retainedChars);
  }
  findings.push(...scanner.end());
  return { findings: findings.sort((a, b) => a.start - b.start), maxRetained };
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
  const scores = Object.fromEntries(detectorNames.map((name) => [name, score(name)])) as Record<
    DetectorName,
    Score
  >;

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
      const expected = expectedInStream(text);
      for (let cut = 0; cut <= text.length; cut++)
        expect(streamed([text.slice(0, cut), text.slice(cut)]).findings, `cut at ${cut}`).toEqual(expected);
    }
  });

  it('reports each value exactly once when it arrives deep into a stream, split anywhere', () => {
    for (const sample of splitSamples) {
      const text = `${PAD}\n${sample}\n${PAD}`;
      const expected = expectedInStream(text);
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
    const expected = expectedInStream(text);
    for (const max of [1, 7, 64, 1_000, 50_000])
      expect(streamed(chunked(text, max, max)).findings).toEqual(expected);
    expect(streamed(chunked(text, 64), ['email', 'private-key']).findings).toEqual(
      expectedInStream(text, ['email', 'private-key']),
    );
  });

  it('keeps a bounded tail over 5 MB of harmless text', () => {
    const text = harmlessText(5 * 1024 * 1024);
    const { findings, maxRetained } = streamed(chunked(text, 64));
    expect(findings).toEqual([]);
    expect(maxRetained).toBeLessThanOrEqual(8 * 1024);
  });

  it('flags a private key on its BEGIN marker, before the key itself, and never holds the block', () => {
    const body = Array.from({ length: 120 }, (_, line) => synthetic(line, 64, BASE64));
    const key = `-----BEGIN RSA PRIVATE KEY-----\n${body.join('\n')}\n-----END RSA PRIVATE KEY-----`;
    const text = `${PAD}${key}\nKeep it safe, alice@example.com.\n${PAD}-----BEGIN OPENSSH PRIVATE KEY-----`;
    const scanner = createStreamScanner();
    const arrivals: { finding: Finding; after: number }[] = [];
    let received = 0;
    let maxRetained = 0;
    for (const delta of chunked(text, 16)) {
      received += delta.length;
      for (const finding of scanner.push(delta)) arrivals.push({ finding, after: received });
      maxRetained = Math.max(maxRetained, scanner.retainedChars);
    }
    for (const finding of scanner.end()) arrivals.push({ finding, after: received });
    const keyStart = PAD.length;
    expect(arrivals.map(({ finding: { detector, start, end } }) => ({ detector, start, end }))).toEqual([
      { detector: 'private-key', start: keyStart, end: keyStart + 31 },
      { detector: 'email', start: keyStart + key.length + 15, end: keyStart + key.length + 32 },
      { detector: 'private-key', start: text.length - 35, end: text.length },
    ]);
    expect(arrivals[0]?.after).toBeLessThan(keyStart + 31 + 16);
    expect(detect(text)[0]).toMatchObject({
      detector: 'private-key',
      start: keyStart,
      end: keyStart + key.length,
    });
    expect(maxRetained).toBeLessThanOrEqual(8 * 1024);
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
