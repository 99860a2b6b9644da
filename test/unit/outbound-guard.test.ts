import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import {
  type AddressCategory,
  addressRefusal,
  assertUrlAllowed,
  classifyAddress,
  guardedLookup,
  type OutboundPolicy,
  type ResolveAll,
} from '../../core/net/outbound-guard.ts';

const policies: OutboundPolicy[] = [
  { allowLoopback: false, allowPrivateNetworks: false },
  { allowLoopback: true, allowPrivateNetworks: false },
  { allowLoopback: false, allowPrivateNetworks: true },
  { allowLoopback: true, allowPrivateNetworks: true },
];

function allowedUnder(category: AddressCategory, policy: OutboundPolicy): boolean {
  if (category === 'public') return true;
  if (category === 'loopback') return policy.allowLoopback;
  if (category === 'private') return policy.allowPrivateNetworks;
  return false;
}

const addresses: [string, AddressCategory, RegExp?][] = [
  // Always forbidden: link-local and cloud metadata, unspecified, multicast, broadcast/reserved.
  ['169.254.169.254', 'forbidden', /link-local\/cloud-metadata/],
  ['169.254.0.1', 'forbidden', /link-local/],
  ['100.100.100.200', 'forbidden', /cloud-metadata/],
  ['192.0.0.192', 'forbidden', /cloud-metadata/],
  ['fe80::1', 'forbidden', /link-local/],
  ['fe80::1%eth0', 'forbidden', /link-local/],
  ['febf:ffff::1', 'forbidden', /link-local/],
  ['fd00:ec2::254', 'forbidden', /cloud-metadata/],
  ['0.0.0.0', 'forbidden', /unspecified/],
  ['0.1.2.3', 'forbidden', /unspecified/],
  ['::', 'forbidden', /unspecified/],
  ['224.0.0.1', 'forbidden', /multicast/],
  ['239.255.255.250', 'forbidden', /multicast/],
  ['ff02::1', 'forbidden', /multicast/],
  ['255.255.255.255', 'forbidden', /broadcast/],
  ['240.0.0.1', 'forbidden', /reserved/],
  // IPv6 forms carrying a forbidden IPv4 address.
  ['::ffff:169.254.169.254', 'forbidden', /link-local/],
  ['::ffff:a9fe:a9fe', 'forbidden', /link-local/],
  ['[::ffff:a9fe:a9fe]', 'forbidden', /link-local/],
  ['::ffff:100.100.100.200', 'forbidden', /cloud-metadata/],
  ['::ffff:0.0.0.0', 'forbidden', /unspecified/],
  ['::ffff:255.255.255.255', 'forbidden', /broadcast/],
  ['::ffff:0:a9fe:a9fe', 'forbidden', /IPv4 169\.254\.169\.254 inside IPv6/],
  ['::a9fe:a9fe', 'forbidden', /IPv4 169\.254\.169\.254 inside IPv6/],
  ['64:ff9b::a9fe:a9fe', 'forbidden', /IPv4 169\.254\.169\.254 inside IPv6/],
  ['64:ff9b::169.254.169.254', 'forbidden', /link-local/],
  ['2002:a9fe:a9fe::1', 'forbidden', /IPv4 169\.254\.169\.254 inside IPv6/],
  // Loopback.
  ['127.0.0.1', 'loopback', /loopback/],
  ['127.255.255.254', 'loopback', /loopback/],
  ['::1', 'loopback', /loopback/],
  ['[::1]', 'loopback', /loopback/],
  ['::ffff:127.0.0.1', 'loopback', /loopback/],
  ['::ffff:7f00:1', 'loopback', /loopback/],
  ['64:ff9b::7f00:1', 'loopback', /loopback/],
  // Private networks.
  ['10.0.0.1', 'private', /private-network/],
  ['10.255.255.255', 'private', /private-network/],
  ['172.16.0.1', 'private', /private-network/],
  ['172.31.255.255', 'private', /private-network/],
  ['192.168.1.1', 'private', /private-network/],
  ['100.64.0.1', 'private', /carrier-grade NAT/],
  ['100.127.255.254', 'private', /carrier-grade NAT/],
  ['fc00::1', 'private', /private-network/],
  ['fd12:3456:789a::1', 'private', /private-network/],
  ['fec0::1', 'private', /private-network/],
  ['::ffff:10.0.0.1', 'private', /private-network/],
  ['::ffff:c0a8:101', 'private', /private-network/],
  ['::ffff:100.64.0.1', 'private', /carrier-grade NAT/],
  // Public, including the neighbours of every range.
  ['8.8.8.8', 'public'],
  ['1.1.1.1', 'public'],
  ['172.15.255.255', 'public'],
  ['172.32.0.1', 'public'],
  ['100.63.255.255', 'public'],
  ['100.128.0.1', 'public'],
  ['192.169.0.1', 'public'],
  ['169.253.255.255', 'public'],
  ['223.255.255.255', 'public'],
  ['2606:4700:4700::1111', 'public'],
  ['2001:4860:4860::8888', 'public'],
  ['fbff::1', 'public'],
  ['::ffff:8.8.8.8', 'public'],
  ['64:ff9b::808:808', 'public'],
  ['2002:808:808::1', 'public'],
];

describe('address classification', () => {
  it.each(addresses)('%s is %s', (address, category, description) => {
    const classification = classifyAddress(address);
    expect(classification.category).toBe(category);
    if (description) expect(classification.description).toMatch(description);
  });

  it.each(addresses)('%s is allowed only by the policies that allow %s', (address, category, description) => {
    for (const policy of policies) {
      const refusal = addressRefusal(address, policy);
      expect({ policy, allowed: refusal === undefined }).toEqual({
        policy,
        allowed: allowedUnder(category, policy),
      });
      if (refusal && description) expect(refusal).toMatch(description);
    }
  });

  it('refuses to classify something that is not an IP address', () => {
    expect(() => classifyAddress('example.com')).toThrow(/not an IP address/);
  });
});

const urls: [string, AddressCategory, string][] = [
  // WHATWG URL parsing normalises these IPv4 spellings; the normalised address is what is checked.
  ['http://2852039166/', 'forbidden', '169.254.169.254'],
  ['http://0xA9FEA9FE/', 'forbidden', '169.254.169.254'],
  ['http://0251.0376.0251.0376/', 'forbidden', '169.254.169.254'],
  ['http://169.254.43518/latest/meta-data', 'forbidden', '169.254.169.254'],
  ['http://0xa9.0xfe.0xa9.0xfe/', 'forbidden', '169.254.169.254'],
  ['https://169.254.169.254:443/', 'forbidden', '169.254.169.254'],
  ['http://[::ffff:169.254.169.254]/', 'forbidden', '::ffff:a9fe:a9fe'],
  ['http://[fd00:ec2::254]/latest', 'forbidden', 'fd00:ec2::254'],
  ['http://100.100.100.200/latest/meta-data', 'forbidden', '100.100.100.200'],
  ['http://0/', 'forbidden', '0.0.0.0'],
  ['http://[::]:8080/', 'forbidden', '::'],
  ['http://0x7f.1/', 'loopback', '127.0.0.1'],
  ['http://017700000001/', 'loopback', '127.0.0.1'],
  ['http://2130706433/', 'loopback', '127.0.0.1'],
  ['http://[::1]:9000/', 'loopback', '::1'],
  ['http://[::ffff:7f00:1]/', 'loopback', '::ffff:7f00:1'],
  ['http://10.1/', 'private', '10.0.0.1'],
  ['http://0xC0A80001/', 'private', '192.168.0.1'],
  ['https://[fd12::1]/v1', 'private', 'fd12::1'],
  ['https://user:pass@8.8.8.8/v1', 'public', '8.8.8.8'],
  ['https://[2606:4700:4700::1111]/', 'public', '2606:4700:4700::1111'],
];

const noDns: ResolveAll = (hostname) => Promise.reject(new Error(`unexpected DNS lookup of ${hostname}`));

describe('assertUrlAllowed with IP-literal hosts', () => {
  it.each(urls)('%s (%s %s) is checked without DNS under every policy', async (url, category, normalised) => {
    for (const policy of policies) {
      const check = assertUrlAllowed(url, policy, noDns);
      if (allowedUnder(category, policy)) {
        await expect(check).resolves.toBeInstanceOf(URL);
      } else {
        await expect(check).rejects.toMatchObject({
          code: 'OUTBOUND_ADDRESS_REFUSED',
          address: normalised,
          message: expect.stringContaining(`${normalised} is `),
        });
      }
    }
  });

  it('names the host and the reason, and never the credentials or path of the URL', async () => {
    const refusal = assertUrlAllowed(
      'http://me:hunter2@2852039166/latest/meta-data?token=abc',
      policies[3]!,
      noDns,
    );
    await expect(refusal).rejects.toThrow(
      'Outbound request to 169.254.169.254 refused: 169.254.169.254 is a link-local/cloud-metadata address',
    );
    await expect(refusal).rejects.not.toThrow(/hunter2|token|meta-data/);
  });

  it.each([
    'ftp://8.8.8.8/',
    'file:///etc/passwd',
    'gopher://8.8.8.8:70/',
    'javascript:alert(1)',
    'not a url',
  ])('refuses %s: only http and https', async (url) => {
    await expect(assertUrlAllowed(url, policies[3]!, noDns)).rejects.toMatchObject({
      code: 'OUTBOUND_ADDRESS_REFUSED',
    });
  });
});

function fakeDns(records: Record<string, string[]>): ResolveAll {
  return async (hostname) => {
    const found = records[hostname];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return found.map((address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
}

describe('assertUrlAllowed with hostnames', () => {
  const dns = fakeDns({
    'api.example.com': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
    'metadata.example.com': ['169.254.169.254'],
    'mixed.example.com': ['93.184.216.34', '169.254.169.254'],
    'internal.example.com': ['10.0.0.5'],
    'dev.example.com': ['127.0.0.1', '::1'],
    'mapped.example.com': ['::ffff:a9fe:a9fe'],
  });
  const strict = policies[0]!;
  const permissive = policies[3]!;

  it('allows a hostname whose every address is allowed', async () => {
    await expect(assertUrlAllowed('https://api.example.com/v1', strict, dns)).resolves.toBeInstanceOf(URL);
    await expect(assertUrlAllowed('https://internal.example.com/', permissive, dns)).resolves.toBeInstanceOf(
      URL,
    );
    await expect(assertUrlAllowed('http://dev.example.com:9000/', permissive, dns)).resolves.toBeInstanceOf(
      URL,
    );
  });

  it('refuses a hostname if ANY of its addresses is refused', async () => {
    await expect(assertUrlAllowed('https://mixed.example.com/', permissive, dns)).rejects.toThrow(
      'Outbound request to mixed.example.com refused: it resolves to 169.254.169.254 is a link-local/cloud-metadata address',
    );
    await expect(assertUrlAllowed('https://metadata.example.com/', permissive, dns)).rejects.toMatchObject({
      code: 'OUTBOUND_ADDRESS_REFUSED',
      host: 'metadata.example.com',
      address: '169.254.169.254',
    });
    await expect(assertUrlAllowed('https://mapped.example.com/', permissive, dns)).rejects.toMatchObject({
      address: '::ffff:a9fe:a9fe',
    });
    await expect(assertUrlAllowed('https://internal.example.com/', strict, dns)).rejects.toThrow(
      /10\.0\.0\.5 is a private-network address/,
    );
    await expect(assertUrlAllowed('http://dev.example.com:9000/', strict, dns)).rejects.toThrow(
      /dev\.example\.com:9000 refused: it resolves to 127\.0\.0\.1 is a loopback address/,
    );
  });

  it('lets DNS failures through as they are', async () => {
    await expect(assertUrlAllowed('https://nowhere.example.com/', strict, dns)).rejects.toMatchObject({
      code: 'ENOTFOUND',
    });
  });
});

describe('guardedLookup', () => {
  function lookup(hostname: string, policy: OutboundPolicy, all: boolean) {
    return new Promise<{ error: NodeJS.ErrnoException | null; address: unknown; family?: number }>(
      (resolve) =>
        guardedLookup(policy)(hostname, { all }, (error, address, family) =>
          resolve({ error, address, family }),
        ),
    );
  }

  it('refuses numeric hosts that the system resolver turns into a forbidden address', async () => {
    // getaddrinfo reads "2852039166" as an inet_aton number: 169.254.169.254.
    for (const all of [true, false]) {
      const { error } = await lookup('2852039166', policies[3]!, all);
      expect(error).toMatchObject({ code: 'OUTBOUND_ADDRESS_REFUSED', address: '169.254.169.254' });
    }
  });

  it('answers in the shape the caller asked for', async () => {
    expect(await lookup('127.0.0.1', policies[1]!, false)).toEqual({
      error: null,
      address: '127.0.0.1',
      family: 4,
    });
    expect(await lookup('127.0.0.1', policies[1]!, true)).toMatchObject({
      error: null,
      address: [{ address: '127.0.0.1', family: 4 }],
    });
    expect((await lookup('127.0.0.1', policies[0]!, true)).error).toMatchObject({
      code: 'OUTBOUND_ADDRESS_REFUSED',
    });
  });
});
