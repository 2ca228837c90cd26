/**
 * Keeps research away from the bot's own network: a host is resolved once, every address it
 * resolves to is checked, and the connection is then made to the checked address (see
 * `http-get.ts`), so a DNS answer that changes between check and connect (rebinding) cannot
 * redirect a read to 127.0.0.1 or a cloud metadata service. Only public unicast addresses pass;
 * loopback, private (RFC 1918), CGNAT, link-local (169.254.169.254), unique-local (fd00::/8),
 * multicast, unspecified, reserved and the like are blocked, as is any IPv6 address that embeds a
 * blocked IPv4 one (IPv4-mapped, NAT64) or tunnels to one (6to4, Teredo). The policy's
 * `research.allowPrivateAddresses: true` turns the check off (for an intranet wiki, say).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { ResearchError } from './errors.js';

/** Resolves a host name to its addresses (A and AAAA). Injected in tests. */
export type Resolve = (host: string) => Promise<readonly string[]>;

/** The system resolver (honours /etc/hosts), every address in the order it gives them. */
export const systemResolve: Resolve = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** An address a connection may be pinned to. */
export interface CheckedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** Why an address may not be reached (`reason` like "loopback"), or null when it may. */
export type AddressCheck = (address: string) => string | null;

/** The default check: null for public unicast addresses, else the name of the range. */
export function blockedRange(address: string): string | null {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.parse(address);
  } catch {
    return 'not an IP address';
  }
  if (ip.kind() === 'ipv4') {
    const range = (ip as ipaddr.IPv4).range();
    return range === 'unicast' ? null : range;
  }
  const v6 = ip as ipaddr.IPv6;
  const range = v6.range();
  if (range === 'unicast') return null;
  if (range === 'ipv4Mapped' || range === 'rfc6145' || range === 'rfc6052') {
    // The last 32 bits are an IPv4 address: judge that one.
    const bytes = v6.toByteArray().slice(12);
    const inner = blockedRange(ipaddr.fromByteArray(bytes).toString());
    return inner === null ? null : `${range} ${inner}`;
  }
  return range;
}

export interface AddressGuard {
  /** Resolves `host` and returns the address to connect to, or throws `blocked-address` / `network`. */
  check(host: string, signal?: AbortSignal): Promise<CheckedAddress>;
}

export function createAddressGuard(options: {
  resolve?: Resolve;
  /** research.allowPrivateAddresses: when true, any address passes. */
  allowPrivate: boolean;
  /** Replaces `blockedRange` (tests allow exactly their loopback server this way). */
  checkAddress?: AddressCheck;
}): AddressGuard {
  const resolve = options.resolve ?? systemResolve;
  const checkAddress: AddressCheck = options.allowPrivate
    ? () => null
    : (options.checkAddress ?? blockedRange);
  return {
    async check(host, signal) {
      const name = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
      let addresses: readonly string[];
      try {
        addresses = isIP(name) !== 0 ? [name] : await resolve(name);
      } catch (cause) {
        throw new ResearchError('network', `could not resolve ${name}: ${(cause as Error).message}`, {
          cause,
        });
      }
      signal?.throwIfAborted();
      if (addresses.length === 0) throw new ResearchError('network', `${name} has no addresses`);
      for (const address of addresses) {
        const reason = checkAddress(address);
        if (reason !== null) {
          throw new ResearchError(
            'blocked-address',
            `${name} resolves to ${address} (${reason}), which research may not reach; ` +
              'set research.allowPrivateAddresses: true in the policy only if that host is meant to be read',
          );
        }
      }
      const address = addresses[0] as string;
      return { address, family: isIP(address) === 6 ? 6 : 4 };
    },
  };
}
