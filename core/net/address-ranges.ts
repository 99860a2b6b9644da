/**
 * Which IP addresses an outbound request may reach. Every address falls in
 * one category: `forbidden` (never: link-local, cloud metadata, unspecified,
 * multicast, broadcast/reserved), `loopback`, `private` (RFC 1918, CGNAT,
 * unique-local), or `public`. IPv6 forms that carry an IPv4 address
 * (`::ffff:a.b.c.d` mapped, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`, ...) are
 * judged by the IPv4 address they carry, so `::ffff:169.254.169.254` is as
 * forbidden as `169.254.169.254`.
 */
import { BlockList, isIP } from 'node:net';

export type AddressCategory = 'forbidden' | 'loopback' | 'private' | 'public';

export interface AddressClassification {
  readonly category: AddressCategory;
  /** Reads after "<address> is ", e.g. "a link-local/cloud-metadata address". */
  readonly description: string;
}

interface RangeGroup {
  readonly category: Exclude<AddressCategory, 'public'>;
  readonly description: string;
  readonly ipv4?: readonly string[];
  readonly ipv6?: readonly string[];
}

// Order matters: the first group that matches wins, so the always-forbidden
// addresses inside private ranges (100.100.100.200 in CGNAT, fd00:ec2::254 in
// fc00::/7) are caught before their enclosing range.
const rangeGroups: readonly RangeGroup[] = [
  {
    category: 'forbidden',
    description: 'a link-local/cloud-metadata address',
    // 100.100.100.200: Alibaba Cloud metadata; 192.0.0.192: Oracle Cloud Classic metadata.
    ipv4: ['169.254.0.0/16', '100.100.100.200/32', '192.0.0.192/32'],
    // fd00:ec2::254: the AWS IMDS IPv6 endpoint.
    ipv6: ['fe80::/10', 'fd00:ec2::254/128'],
  },
  {
    category: 'forbidden',
    description: 'an unspecified ("this host") address',
    ipv4: ['0.0.0.0/8'],
    ipv6: ['::/128'],
  },
  { category: 'forbidden', description: 'a multicast address', ipv4: ['224.0.0.0/4'], ipv6: ['ff00::/8'] },
  { category: 'forbidden', description: 'a broadcast/reserved address', ipv4: ['240.0.0.0/4'] },
  { category: 'loopback', description: 'a loopback address', ipv4: ['127.0.0.0/8'], ipv6: ['::1/128'] },
  {
    category: 'private',
    description: 'a private-network address',
    ipv4: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'],
    // fec0::/10: deprecated site-local, still routed inside some networks.
    ipv6: ['fc00::/7', 'fec0::/10'],
  },
  { category: 'private', description: 'a carrier-grade NAT (shared) address', ipv4: ['100.64.0.0/10'] },
];

const compiledGroups = rangeGroups.map((group) => {
  const list = new BlockList();
  for (const range of group.ipv4 ?? []) addSubnet(list, range, 'ipv4');
  for (const range of group.ipv6 ?? []) addSubnet(list, range, 'ipv6');
  return { ...group, list };
});

function addSubnet(list: BlockList, range: string, type: 'ipv4' | 'ipv6'): void {
  const [network, prefix] = range.split('/');
  list.addSubnet(network!, Number(prefix), type);
}

/** IPv6 prefixes whose last 32 bits (or, for 6to4, bits 16-47) are an IPv4 address. */
const embeddingPrefixes = (() => {
  const list = new BlockList();
  list.addSubnet('::ffff:0:0', 96, 'ipv6'); // IPv4-mapped
  list.addSubnet('::ffff:0:0:0', 96, 'ipv6'); // IPv4-translated (SIIT)
  list.addSubnet('::', 96, 'ipv6'); // IPv4-compatible (deprecated)
  list.addSubnet('64:ff9b::', 96, 'ipv6'); // NAT64 well-known prefix
  list.addSubnet('64:ff9b:1::', 48, 'ipv6'); // NAT64 local-use prefix
  return list;
})();
const sixToFour = (() => {
  const list = new BlockList();
  list.addSubnet('2002::', 16, 'ipv6');
  return list;
})();

/** Classifies an IP literal (IPv4, or IPv6 with or without brackets and zone id). */
export function classifyAddress(address: string): AddressClassification {
  const ip = stripBracketsAndZone(address);
  const family = isIP(ip);
  if (family === 0) throw new TypeError(`${address} is not an IP address`);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const direct = compiledGroups.find((group) => group.list.check(ip, type));
  if (direct) return { category: direct.category, description: direct.description };
  if (family === 6) {
    const embedded = embeddedIPv4(ip);
    if (embedded) {
      const inner = classifyAddress(embedded);
      if (inner.category !== 'public') {
        return {
          category: inner.category,
          description: `${inner.description} (IPv4 ${embedded} inside IPv6)`,
        };
      }
    }
  }
  return { category: 'public', description: 'a public address' };
}

export function stripBracketsAndZone(host: string): string {
  const unbracketed = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const zone = unbracketed.indexOf('%');
  return zone === -1 || !unbracketed.includes(':') ? unbracketed : unbracketed.slice(0, zone);
}

function embeddedIPv4(ipv6: string): string | undefined {
  const words = expandIPv6(ipv6);
  if (embeddingPrefixes.check(ipv6, 'ipv6')) return wordsToIPv4(words[6]!, words[7]!);
  if (sixToFour.check(ipv6, 'ipv6')) return wordsToIPv4(words[1]!, words[2]!);
  return undefined;
}

function wordsToIPv4(high: number, low: number): string {
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/** The eight 16-bit words of an IPv6 address (which `isIP` has already validated). */
function expandIPv6(ipv6: string): number[] {
  let text = ipv6.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headWords = head === '' ? [] : head.split(':');
  const tailWords = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array(8 - headWords.length - tailWords.length).fill('0');
  return [...headWords, ...zeros, ...tailWords].map((word) => Number.parseInt(word, 16));
}
