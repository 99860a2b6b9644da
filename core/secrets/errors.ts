/**
 * Errors of the secrets module. Messages name key ids and what went wrong,
 * never key material or plaintext.
 */

/** The master keyring configuration is unusable (bad base64, wrong length, duplicate id, ...). */
export class MasterKeyringError extends Error {
  readonly code = 'MASTER_KEYRING_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'MasterKeyringError';
  }
}

export type SecretDecryptionErrorCode =
  /** Not a sealed secret: missing field, bad base64, wrong nonce/tag/key length. */
  | 'SECRET_MALFORMED'
  /** Sealed by a newer (or unknown) format version. */
  | 'SECRET_UNSUPPORTED_VERSION'
  /** Sealed under a master key id that is not in the keyring. */
  | 'SECRET_UNKNOWN_KEY'
  /** Authentication failed: tampering, wrong context (AAD), or wrong key material for that id. */
  | 'SECRET_AUTHENTICATION_FAILED';

/** A sealed secret could not be opened. Nothing of the plaintext is ever returned alongside. */
export class SecretDecryptionError extends Error {
  readonly code: SecretDecryptionErrorCode;
  constructor(code: SecretDecryptionErrorCode, message: string) {
    super(message);
    this.name = 'SecretDecryptionError';
    this.code = code;
  }
}
