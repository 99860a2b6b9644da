/** `api-key`: well-known secret token formats. */
import { hasRandomRun, type Rule, ruleDetector } from './rules.ts';

const JWT_HEADER_MAX = 500;
const JWT_PAYLOAD_MAX = 3000;
const JWT_SIGNATURE_MAX = 700;

/** Keys that start with a fixed prefix and end at the first character no token contains. */
function prefixed(prefix: string, body: string, maxLength: number): Rule {
  return {
    regex: new RegExp(`(?<![\\w-])${prefix}${body}(?![\\w-])`, 'g'),
    maxLength,
    accept: (value) => hasRandomRun(value),
  };
}

function jwtHeaderHasAlgorithm(token: string): boolean {
  try {
    const header: unknown = JSON.parse(
      Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString(),
    );
    return typeof header === 'object' && header !== null && 'alg' in header;
  } catch {
    return false;
  }
}

const awsAccessKeyId = /(?:AKIA|ASIA)[A-Z2-7]{16}/;
const awsSecretLabel = /aws.?secret|secret.?access.?key/i;

const rules: Rule[] = [
  // OpenAI sk-…, sk-proj-…, sk-svcacct-…, sk-admin-…, and Anthropic sk-ant-api03-….
  prefixed('sk-', '[A-Za-z0-9_-]{20,400}', 403),
  prefixed('(?:gh[pousr]_)', '[A-Za-z0-9]{36}', 40),
  prefixed('github_pat_', '[A-Za-z0-9_]{50,255}', 266),
  prefixed('(?:sk|rk)_live_', '[A-Za-z0-9]{24,247}', 255),
  // Slack: xoxb-<team>-<bot>-<secret>, xoxp-<team>-<user>-<id>-<secret>, …
  {
    regex: /(?<![\w-])xox[abprs]-(?:\d{6,15}-){1,3}[A-Za-z0-9]{16,64}(?![\w-])/g,
    maxLength: 118,
  },
  // Google API key: AIza and 35 more characters.
  { regex: /(?<![\w-])AIza[A-Za-z0-9_-]{35}(?![\w-])/g, maxLength: 39 },
  // AWS access key id (base32 after the prefix), and a secret access key near one or after its label.
  { regex: /(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z2-7]{16}(?![A-Za-z0-9])/g, maxLength: 20 },
  {
    regex: /(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g,
    maxLength: 40,
    accept: (value, text, start) => {
      const before = text.slice(Math.max(0, start - 200), start);
      const mixed = /[A-Z]/.test(value) && /[a-z]/.test(value) && /\d/.test(value);
      return mixed && (awsAccessKeyId.test(before) || awsSecretLabel.test(before));
    },
  },
  // JSON Web Token: base64url JSON header with an algorithm, JSON payload, optional signature.
  {
    regex: new RegExp(
      `(?<![\\w.-])eyJ[A-Za-z0-9_-]{5,${JWT_HEADER_MAX}}\\.eyJ[A-Za-z0-9_-]{5,${JWT_PAYLOAD_MAX}}\\.[A-Za-z0-9_-]{0,${JWT_SIGNATURE_MAX}}(?![\\w-]|\\.[\\w-])`,
      'g',
    ),
    maxLength: 3 + JWT_HEADER_MAX + 4 + JWT_PAYLOAD_MAX + 1 + JWT_SIGNATURE_MAX,
    accept: jwtHeaderHasAlgorithm,
  },
  // Authorization: Bearer <token>; the token alone is the finding, and it must look generated.
  {
    regex:
      /(?<=\b(?:[Bb]earer|BEARER)[ \t]{1,4})[A-Za-z0-9._~+/-]{19,4095}[A-Za-z0-9_~+/-]={0,2}(?![\w~+/=-]|\.[\w~+/-])/g,
    maxLength: 4098,
    accept: (value) => hasRandomRun(value),
  },
];

export const apiKey = ruleDetector('api-key', rules);
