// Kernel refusals turned into sentences an operator can act on: what we tried, what the kernel
// said (errno text and name), and what that errno means for this particular IPVS command
// (meanings from net/netfilter/ipvs/ip_vs_ctl.c: ip_vs_genl_set_cmd, ip_vs_add_service, ...).
import util from 'node:util';
import type { Op } from '../types.js';

export const ERRNO = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, ENOMEM: 12, EBUSY: 16, EEXIST: 17, ENODEV: 19, EINVAL: 22, ERANGE: 34, EAFNOSUPPORT: 97, EADDRNOTAVAIL: 99,
} as const;

/** "No such process (ESRCH)" */
export function errnoText(errno: number): string {
  const entry = util.getSystemErrorMap().get(-errno);
  const code = entry?.[0] ?? `errno ${errno}`;
  const text = entry?.[1] ?? 'unknown error';
  return `${text.charAt(0).toUpperCase()}${text.slice(1)} (${code})`;
}

export function opContext(op: Op): string {
  switch (op.op) {
    case 'add-service':
      return `add service ${op.svc.key}`;
    case 'edit-service':
      return `edit service ${op.svc.key}`;
    case 'del-service':
      return `delete service ${op.svc.key}`;
    case 'add-dest':
      return `add destination ${op.dest.key} to ${op.svc.key}`;
    case 'edit-dest':
      return `edit destination ${op.dest.key} in ${op.svc.key}`;
    case 'del-dest':
      return `delete destination ${op.dest.key} from ${op.svc.key}`;
  }
}

/** What this errno means for this operation; undefined when the errno text says it all. */
export function opHint(op: Op, errno: number): string | undefined {
  const svcOp = op.op === 'add-service' || op.op === 'edit-service' || op.op === 'del-service';
  switch (errno) {
    case ERRNO.ESRCH:
      return 'service does not exist';
    case ERRNO.EEXIST:
      return svcOp ? 'service already exists' : 'destination already exists';
    case ERRNO.ENOENT:
      if (op.op === 'add-service' || op.op === 'edit-service') {
        const s = op.svc;
        return s.peName
          ? `scheduler '${s.scheduler}' or persistence engine '${s.peName}' not available (no ip_vs_${s.scheduler} or ip_vs_pe_${s.peName} module in this kernel?)`
          : `scheduler '${s.scheduler}' not available (no ip_vs_${s.scheduler} module in this kernel?)`;
      }
      return op.op === 'add-dest' ? undefined : 'destination does not exist';
    case ERRNO.ERANGE:
      return 'weight below zero or lower threshold above upper threshold';
    case ERRNO.EINVAL:
      return svcOp
        ? 'the kernel refused the service parameters (IPv6 netmask must be 1..128, timeout/flags within range)'
        : 'the kernel refused the destination (address not usable, mixed address families without TUN or while a sync daemon runs, or a GUE tunnel without a port)';
    case ERRNO.EAFNOSUPPORT:
      return 'this kernel has no IPv6 support in IPVS';
    case ERRNO.EPERM:
      return 'changing IPVS needs CAP_NET_ADMIN';
    case ERRNO.ENOMEM:
      return 'the kernel is out of memory';
    default:
      return undefined;
  }
}

export function describeOpFailure(op: Op, errno: number, extMessage?: string): string {
  const hint = opHint(op, errno);
  return `${opContext(op)}: ${errnoText(errno)}${extMessage ? `: ${extMessage}` : ''}${hint ? ` — ${hint}` : ''}`;
}
