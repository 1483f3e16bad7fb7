// VRRP timer arithmetic, computed exactly as keepalived does (integer microseconds, truncating),
// then expressed in milliseconds (fractions allowed) for the ms-based `now` used everywhere.
//
// keepalived (vrrp.h): VRRP_TIMER_SKEW = v3: ((256 - prio) * (master_adver_int / 10000) * 625) / 16 µs
//                                         v2: (256 - prio) * 1000000 / 256 µs
//                      VRRP_MS_DOWN_TIMER = down_timer_adverts * master_adver_int + skew
// RFC 5798 has the same formulas with down_timer_adverts = 3. Examples (priority 100):
//   v2 1 s:  skew 609.375 ms, MDI 3609.375 ms      (lab: prio-0 → takeover 609.6 ms; crash 3609.6 ms)
//   v3 0.1 s: skew 60.937 ms, MDI 360.937 ms       (lab: 61.1 / 361.1 ms)
//   v3 0.01 s: skew 6.093 ms, MDI 36.093 ms        (lab: 36.3 ms)
import type { VrrpVersion } from './packet.js';

export function skewUs(version: VrrpVersion, priority: number, masterAdverIntMs: number): number {
  const p = 256 - priority;
  if (version === 3) return Math.floor((p * Math.round(masterAdverIntMs / 10) * 625) / 16);
  return Math.floor((p * 1_000_000) / 256);
}

export function masterDownUs(
  version: VrrpVersion,
  priority: number,
  masterAdverIntMs: number,
  downTimerAdverts: number,
): number {
  return downTimerAdverts * Math.round(masterAdverIntMs * 1000) + skewUs(version, priority, masterAdverIntMs);
}

export const usToMs = (us: number): number => us / 1000;

export function skewMs(version: VrrpVersion, priority: number, masterAdverIntMs: number): number {
  return usToMs(skewUs(version, priority, masterAdverIntMs));
}

export function masterDownMs(
  version: VrrpVersion,
  priority: number,
  masterAdverIntMs: number,
  downTimerAdverts: number,
): number {
  return usToMs(masterDownUs(version, priority, masterAdverIntMs, downTimerAdverts));
}

/**
 * keepalived's advert_int normalisation: v2 → whole seconds (rounded, min 1, max 255);
 * v3 → 10 ms steps clamped to [10 ms, 40.95 s].
 */
export function normaliseAdvertIntMs(version: VrrpVersion, ms: number): number {
  if (!Number.isFinite(ms)) return 1000;
  if (version === 2) return Math.min(255, Math.max(1, Math.round(ms / 1000))) * 1000;
  return Math.min(4095, Math.max(1, Math.round(ms / 10))) * 10;
}
