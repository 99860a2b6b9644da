/** An AI LLM config's API key and secret, sealed and bound to the config and the field they belong to. */
import type { AiLlmConfig } from '../db/entities/index.ts';
import { decryptSecret, encryptSecret, parseSealedSecret, type SealedSecret } from '../secrets/envelope.ts';
import type { MasterKeyring } from '../secrets/keyring.ts';

type SecretField = 'apiKey' | 'apiSecret';

const context = (configId: string, field: SecretField) => `ai-config:${configId}:${field}`;

export function sealAiConfigSecret(
  keyring: MasterKeyring,
  configId: string,
  field: SecretField,
  value: string,
): SealedSecret {
  return encryptSecret(keyring, value, context(configId, field));
}

/** The provider connection of a config whose `apiKey` and `apiSecret` are loaded. */
export function aiProviderConnection(keyring: MasterKeyring, config: AiLlmConfig) {
  const open = (field: SecretField, sealed: unknown) =>
    decryptSecret(keyring, parseSealedSecret(sealed), context(config.id, field));
  return {
    type: config.type,
    apiEndpoint: config.apiEndpoint,
    apiKey: config.apiKey ? open('apiKey', config.apiKey) : undefined,
    apiSecret: open('apiSecret', config.apiSecret),
  };
}
