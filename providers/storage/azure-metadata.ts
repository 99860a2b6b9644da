/**
 * Azure metadata names must be C# identifiers (letters, digits, `_`, not
 * starting with a digit), while S3 and GCS names are usually like
 * `origin-app`. Names that are already identifiers are stored unchanged, so
 * metadata written by other Azure tools reads back as it is. Any other name is
 * stored as `sbmeta_` + the name with every byte other than an ASCII letter
 * or digit written `_xx` (lowercase hex of its UTF-8 byte): `origin-app` →
 * `sbmeta_origin_2dapp`. The mapping is reversible; like S3's, names come back
 * lowercased (Azure treats them case-insensitively and answers in HTTP headers).
 */
const ENCODED_NAME_PREFIX = 'sbmeta_';
const csharpIdentifier = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function encodeAzureMetadataName(name: string): string {
  if (csharpIdentifier.test(name) && !name.toLowerCase().startsWith(ENCODED_NAME_PREFIX)) return name;
  let encoded = ENCODED_NAME_PREFIX;
  for (const byte of Buffer.from(name, 'utf8')) {
    const isAlphanumeric = /[A-Za-z0-9]/.test(String.fromCharCode(byte));
    encoded += isAlphanumeric ? String.fromCharCode(byte) : `_${byte.toString(16).padStart(2, '0')}`;
  }
  return encoded;
}

export function decodeAzureMetadataName(stored: string): string {
  if (!stored.toLowerCase().startsWith(ENCODED_NAME_PREFIX)) return stored;
  const bytes: number[] = [];
  const body = stored.slice(ENCODED_NAME_PREFIX.length);
  for (let index = 0; index < body.length; index++) {
    if (body[index] === '_') {
      bytes.push(Number.parseInt(body.slice(index + 1, index + 3), 16));
      index += 2;
    } else {
      bytes.push(body.charCodeAt(index));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

export function encodeAzureMetadata(
  metadata: Record<string, string> | undefined,
): Record<string, string> | undefined {
  if (!metadata) return undefined;
  return Object.fromEntries(
    Object.entries(metadata).map(([name, value]) => [encodeAzureMetadataName(name), value]),
  );
}

export function decodeAzureMetadata(
  metadata: Record<string, string> | undefined,
): Record<string, string> | undefined {
  if (!metadata) return undefined;
  return Object.fromEntries(
    Object.entries(metadata).map(([name, value]) => [decodeAzureMetadataName(name), value]),
  );
}
