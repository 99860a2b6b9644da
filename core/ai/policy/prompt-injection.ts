/**
 * `prompt-injection`: the phrasings of well-known injection and jailbreak attempts (English only).
 * Instructions to override or reveal count only when given, not when discussed: "don't ignore the
 * previous instructions", "the model may ignore previous instructions" and "never reveal your
 * system prompt" do not match.
 */
import { type Rule, ruleDetector } from './rules.ts';

const MAX_LENGTH = 200;
const gap = String.raw`\s{1,8}`;
const wordList = (list: string) => list.split(' ');
const alternatives = (list: readonly string[]) => `(?:${list.join('|')})`;

// Words that may come right before an imperative verb ("please ignore", "now reveal", "you must ignore").
const leadWords = new Set(
  wordList(
    'please pls now just and then so also first simply kindly immediately always hey ok okay instead but hereby completely totally entirely',
  ),
);
const modalWords = new Set(wordList('must should will shall can could would'));
const negations = new Set(
  wordList(
    "not never no nor neither without don't dont doesn't didn't shouldn't mustn't won't wouldn't can't cannot couldn't",
  ),
);

/** Whether the verb at `start` opens its clause as a command, as opposed to being described or negated. */
function isCommand(text: string, start: number): boolean {
  const clause =
    text
      .slice(Math.max(0, start - 48), start)
      .split(/[.!?;:,\n"“”()[\]{}<>*`|—]|--/)
      .at(-1) ?? '';
  const words = (clause.match(/[A-Za-z']+/g) ?? []).map((word) => word.toLowerCase());
  if (words.some((word) => negations.has(word))) return false;
  const [previous, last] = [words.at(-2), words.at(-1)];
  if (last === undefined || leadWords.has(last)) return true;
  if (last === 'you' || modalWords.has(last))
    return (
      previous === undefined || previous === 'you' || modalWords.has(previous) || leadWords.has(previous)
    );
  if (last === 'to') return words.slice(-4).includes('you');
  return false;
}

const overrideVerbs = ['ignore', 'disregard', 'forget', 'override', 'bypass'];
// Modifiers that point at the assistant's own setup, as opposed to any rules or instructions.
const ownModifiers = wordList(
  'your previous prior above earlier preceding foregoing former original initial system existing current safety developer content default',
);
const otherModifiers = wordList('all any every each of the my these those old');
const strongTargets = ['instructions?', 'prompts?', 'directives?', 'programming', 'guardrails'];
const weakTargets = wordList(
  'rules directions guidance conversation training guidelines context messages? commands? polic(?:y|ies) restrictions constraints',
);
const afterwards = `${gap}(?:above|before|earlier|so${gap}far)`;
const endsWithAfterwards = new RegExp(`${afterwards}$`, 'i');
const strongTargetWithQuantifier = new RegExp(
  `\\b(?:all|any|every)\\b.*\\b(?:${strongTargets.join('|')})$`,
  'is',
);

/** "Ignore all previous instructions", "disregard the system prompt", "forget everything above", "ignore the above." */
const override: Rule = {
  regex: new RegExp(
    String.raw`\b${alternatives(overrideVerbs)}(?:${gap}${alternatives([...ownModifiers, ...otherModifiers])}){0,5}${gap}` +
      String.raw`(?:${alternatives([...strongTargets, ...weakTargets])}\b(?:${afterwards})?|everything${afterwards}|above(?=\s{0,8}(?:[.,;:!?]|and\b|then\b|$)))\b`,
    'gi',
  ),
  maxLength: MAX_LENGTH,
  accept: (value, text, start) => {
    // "Ignore the rules of chess" is not an attack; "ignore your rules", "… above" and "ignore all instructions" are.
    const words = value.toLowerCase().split(/\s+/);
    const pointsAtAssistant =
      words.some((word) => ownModifiers.includes(word)) ||
      endsWithAfterwards.test(value) ||
      strongTargetWithQuantifier.test(value);
    return pointsAtAssistant && isCommand(text, start);
  },
};

const revealVerbs = [
  ...wordList('reveal show print output repeat display leak expose dump tell give share'),
  `write${gap}out`,
];
const hiddenPrompt = `(?:system${gap}(?:prompt|message|instructions)|(?:initial|original|hidden|secret|developer)${gap}(?:instructions|prompt|message)|(?:prompt|instructions)${gap}(?:above|you${gap}were${gap}given))`;
// "show the system prompt editor" is about a screen, not a request.
const notAScreen = String.raw`(?!${gap}(?:editor|field|box|template|settings|tab|panel|file|window|page|section|engineering|design)\b)`;

/** "Reveal your system prompt", "print your initial instructions", "what is your system prompt". */
const reveal: Rule = {
  regex: new RegExp(
    String.raw`\b${alternatives(revealVerbs)}(?:${gap}(?:me|us))?(?:${gap}(?:all|the|your|its|full|entire|complete|exact|verbatim|underlying|current)){0,4}${gap}${hiddenPrompt}\b${notAScreen}`,
    'gi',
  ),
  maxLength: MAX_LENGTH,
  accept: (_value, text, start) => isCommand(text, start),
};

/** "What is your system prompt?" */
const askForPrompt: Rule = {
  regex: new RegExp(
    String.raw`\bwhat(?:'s|${gap}is|${gap}are|${gap}were)${gap}your${gap}(?:system${gap}prompt|(?:initial|original|hidden|secret)${gap}(?:instructions|prompt))\b`,
    'gi',
  ),
  maxLength: MAX_LENGTH,
};

/** DAN and its relatives; "DAN" must be written in capitals, "Dan" is a name. */
const jailbreak: Rule = {
  regex: new RegExp(
    [
      String.raw`\byou${gap}are${gap}now${gap}(?:DAN|in${gap}(?:developer|god|jailbreak|DAN|unrestricted|unfiltered)${gap}mode|(?:an?${gap})?(?:unrestricted|unfiltered|uncensored|jailbroken|unchained)(?:${gap}(?:AI|assistant|model|chatbot))?)\b`,
      String.raw`\b(?:act|behave|respond|roleplay)${gap}(?:as|like)${gap}DAN\b`,
      String.raw`\b(?:DAN|jailbreak)${gap}mode\b`,
      String.raw`\bpretend${gap}(?:that${gap})?you${gap}(?:have|are${gap}under)${gap}no${gap}(?:restrictions|rules|guidelines|filters|limitations)\b`,
    ].join('|'),
    'gi',
  ),
  maxLength: MAX_LENGTH,
  accept: (value) => !/\bdan\b/i.test(value) || /\bDAN\b/.test(value),
};

const doAnythingNow: Rule = { regex: /\bDo\s{1,8}Anything\s{1,8}Now\b/g, maxLength: MAX_LENGTH };

/** Chat-template role tags smuggled into content: ChatML, Llama 3, Zephyr, Llama 2. */
const roleTag: Rule = {
  regex:
    /<\|im_start\|>[ \t]{0,4}(?:system|assistant|developer)\b|<\|start_header_id\|>[ \t]{0,4}(?:system|assistant|developer)[ \t]{0,4}<\|end_header_id\|>|<\|(?:system|im_system)\|>|<<SYS>>/g,
  maxLength: MAX_LENGTH,
};

const blank = String.raw`[ \t]{1,4}`;
const lineStart = String.raw`(?<=(?:^|\n)[ \t]{0,8})`;
const headerOpening = String.raw`(?:#{1,6}[ \t]{0,4}|\*\*|\[)`;
const headerRole = `(?:system|developer|admin(?:istrator)?|new(?:${blank}system)?${blank}instructions)`;
const headerQualifier = `(?:${blank}(?:prompt|message|override|instructions?|update|note|notice))?`;
// "[SYSTEM]" needs no colon, but "[System](https://…)" is a link.
const headerClosing = String.raw`(?:\](?!\()[ \t]{0,4}:?|(?:\*\*)?[ \t]{0,4}:)`;
const shoutedHeader = String.raw`SYSTEM(?:${blank}(?:PROMPT|MESSAGE|OVERRIDE|INSTRUCTIONS?|UPDATE|NOTE|NOTICE))?[ \t]{0,4}:(?=\s{0,8}[A-Za-z])`;

/** Fake role headers at the start of a line: "### System:", "[SYSTEM]:", "**Developer message**:", "SYSTEM OVERRIDE:". */
const fakeHeader: Rule = {
  regex: new RegExp(
    `${lineStart}(?:${headerOpening}${headerRole}${headerQualifier}${headerClosing}|${shoutedHeader})`,
    'gi',
  ),
  maxLength: MAX_LENGTH,
  // Only a marked-up header ("###", "**", "[") may be in any case; a bare one must shout, and be
  // followed by words (`SYSTEM: "system"` is a constant in code).
  accept: (value) => /^[#*[]/.test(value) || /^SYSTEM/.test(value),
};

export const promptInjection = ruleDetector('prompt-injection', [
  override,
  reveal,
  askForPrompt,
  jailbreak,
  doAnythingNow,
  roleTag,
  fakeHeader,
]);
