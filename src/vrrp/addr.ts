// Address ordering for the VRRP equal-priority tie-break (RFC 5798 §6.4.3: the higher primary
// IP address wins). Compared as unsigned big-endian bytes, which is numeric order for IPv4 and
// keepalived's memcmp order for IPv6.
import { ipBytes } from '../net/sockaddr.js';

export function compareAddr(a: string, b: string): number {
  const x = ipBytes(a);
  const y = ipBytes(b);
  if (x.length !== y.length) return x.length - y.length;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  return 0;
}
