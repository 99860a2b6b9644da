/** node:util parseArgs, with its errors turned into UsageErrors that point at the command's help. */
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { UsageError } from './errors.ts';

export const helpFlag = { help: { type: 'boolean', short: 'h' } } as const;

export function parseCommandLine<Options extends ParseArgsOptionsConfig>(
  args: string[],
  options: Options,
  helpCommand: string,
) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code?.startsWith('ERR_PARSE_ARGS')) throw new UsageError((error as Error).message, helpCommand);
    throw error;
  }
}

/** Exactly `names.length` positional arguments, in that order. */
export function expectPositionals(positionals: string[], names: string[], helpCommand: string): string[] {
  if (positionals.length < names.length)
    throw new UsageError(`missing ${names.slice(positionals.length).join(' and ')}`, helpCommand);
  if (positionals.length > names.length)
    throw new UsageError(`unexpected argument "${positionals[names.length]}"`, helpCommand);
  return positionals;
}

export function requiredFlag(flag: string, value: string | undefined, helpCommand: string): string {
  if (value === undefined || value === '') throw new UsageError(`--${flag} is required`, helpCommand);
  return value;
}

/** A whole number within [min, max], or undefined when the flag was not given. */
export function integerFlag(
  flag: string,
  raw: string | undefined,
  range: { min: number; max: number },
  helpCommand: string,
): number | undefined {
  if (raw === undefined) return undefined;
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < range.min || value > range.max)
    throw new UsageError(
      `--${flag} must be a whole number from ${range.min} to ${range.max}, not "${raw}"`,
      helpCommand,
    );
  return value;
}
