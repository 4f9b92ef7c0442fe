// Where a registry may send ferry with a redirect (blob downloads from object storage). A
// redirect is the registry choosing a URL for ferry to fetch, so a hostile or compromised
// registry could aim it at the cloud metadata service or an internal page: only http(s)
// targets are followed, link-local, metadata, unspecified, multicast and reserved addresses
// never, private and loopback ones only when the registry itself lives on such an address
// (or its config says allowPrivateRedirects). Pure: the caller resolves names and asks here
// about each address it would connect to.
import { BlockList, isIP } from 'node:net';

export type AddressClass = 'public' | 'private' | 'loopback' | 'link-local' | 'metadata' | 'unspecified' | 'multicast' | 'reserved';

export interface RedirectPolicy {
  /** Private and loopback targets are allowed (the registry is on one, or allowPrivateRedirects). */
  allowPrivate: boolean;
}

function blockList(v4: Array<[string, number]>, v6: Array<[string, number]>): BlockList {
  const list = new BlockList();
  for (const [net, prefix] of v4) list.addSubnet(net, prefix, 'ipv4');
  for (const [net, prefix] of v6) list.addSubnet(net, prefix, 'ipv6');
  return list;
}

/** Checked in this order: the first class whose list holds the address wins. */
const CLASSES: Array<[AddressClass, BlockList]> = [
  // Cloud instance metadata: AWS, GCP, Azure, OpenStack (169.254.169.254), ECS tasks
  // (169.254.170.2), Alibaba (100.100.100.200), AWS over IPv6 (fd00:ec2::254).
  ['metadata', blockList([['169.254.169.254', 32], ['169.254.170.2', 32], ['100.100.100.200', 32]], [['fd00:ec2::254', 128]])],
  ['unspecified', blockList([['0.0.0.0', 8]], [['::', 128]])],
  ['loopback', blockList([['127.0.0.0', 8]], [['::1', 128]])],
  ['link-local', blockList([['169.254.0.0', 16]], [['fe80::', 10]])],
  ['private', blockList([['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['100.64.0.0', 10]], [['fc00::', 7]])],
  ['multicast', blockList([['224.0.0.0', 4]], [['ff00::', 8]])],
  // Class E and broadcast; IPv4-compatible IPv6 (::a.b.c.d, deprecated).
  ['reserved', blockList([['240.0.0.0', 4]], [['::', 96]])],
];

/** NAT64's well-known prefix: the last 32 bits are the IPv4 address really reached. */
const NAT64 = blockList([], [['64:ff9b::', 96]]);

/**
 * What kind of address `address` (an IPv4 or IPv6 literal) is. IPv4-mapped (::ffff:a.b.c.d,
 * BlockList maps those itself) and NAT64 (64:ff9b::/96) addresses count as their IPv4 address.
 */
export function classifyAddress(address: string): AddressClass {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (family === 0) throw new Error(`not an IP address: ${JSON.stringify(address)}`);
  if (family === 6 && NAT64.check(bare, 'ipv6')) return classifyAddress(lastIpv4(bare));
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const [kind, list] of CLASSES) if (list.check(bare, type)) return kind;
  return 'public';
}

/** The IPv4 address in the low 32 bits of an IPv6 address. */
function lastIpv4(v6: string): string {
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(v6);
  if (dotted) return dotted[1]!;
  const groups = v6.split(':');
  const lo = parseInt(groups.at(-1) || '0', 16);
  const hi = parseInt(groups.at(-2) || '0', 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** True for addresses whose redirects the registry may use on itself (it is on one of them). */
export function isPrivateOrLoopback(address: string): boolean {
  const kind = classifyAddress(address);
  return kind === 'private' || kind === 'loopback';
}

/** Why ferry must not connect to `address` for a redirect, or undefined when it may. */
export function addressProblem(address: string, policy: RedirectPolicy): string | undefined {
  const kind = classifyAddress(address);
  switch (kind) {
    case 'public':
      return undefined;
    case 'private':
    case 'loopback':
      return policy.allowPrivate ? undefined : `${address} is a ${kind} address (allowed only when the registry itself is on one, or with allowPrivateRedirects: true)`;
    default:
      return `${address} is a ${kind} address, never a redirect target`;
  }
}

/** The IP literal a URL names as its host, or undefined for a host name. */
export function hostAddress(url: URL): string | undefined {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return isIP(host) ? host : undefined;
}

/**
 * Why a redirect to `url` must not be followed, judged from the URL alone (scheme, literal
 * address); names are judged per resolved address when connecting.
 */
export function redirectUrlProblem(url: URL, policy: RedirectPolicy): string | undefined {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `scheme ${url.protocol} is not http: or https:`;
  if (url.username || url.password) return 'the target URL carries credentials';
  const literal = hostAddress(url);
  return literal === undefined ? undefined : addressProblem(literal, policy);
}

/** A URL as errors and logs may show it: no query (pre-signed URLs carry signatures there), no credentials. */
export function redactedUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}${url.search ? '?…' : ''}`;
}
