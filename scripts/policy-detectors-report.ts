/**
 * Prints, as a Markdown table for README, the precision and recall of the built-in AI policy
 * detectors that test/unit/policy-detectors.test.ts last measured on the labelled corpus
 * (bench/results/policy-detectors.json).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from './tools.ts';

interface DetectorScore {
  tp: number;
  fp: number;
  fn: number;
  precision: number;
  recall: number;
  samples: number;
}

interface PolicyDetectorsReport {
  corpus: { samples: number; positives: number; nearMisses: number; mixed: number };
  detectors: Record<string, DetectorScore>;
}

const resultsPath = path.join(projectRoot, 'bench/results/policy-detectors.json');
const percent = (value: number) => `${(value * 100).toFixed(1)} %`;

function table({ corpus, detectors }: PolicyDetectorsReport): string {
  const rows = Object.entries(detectors).map(
    ([name, { tp, fp, fn, precision, recall, samples }]) =>
      `| \`${name}\` | ${samples} | ${tp} | ${fp} | ${fn} | ${percent(precision)} | ${percent(recall)} |`,
  );
  return [
    '| detector | samples | TP | FP | FN | precision | recall |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `Corpus: ${corpus.samples} samples (${corpus.positives} positives, ${corpus.nearMisses} near-misses, ${corpus.mixed} mixed); counts are findings, matched on detector, start and end.`,
  ].join('\n');
}

const report = JSON.parse(
  await readFile(resultsPath, 'utf8').catch(() => {
    throw new Error(`no results at ${resultsPath}: run test/unit/policy-detectors.test.ts first`);
  }),
) as PolicyDetectorsReport;
console.log(table(report));
