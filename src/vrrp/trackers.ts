// Tracked objects → an instance's effective priority and fault state, keepalived semantics
// (vrrp_track.c, keepalived.conf(5) "track_interface", "vrrp_script", "track_file"):
//
// weight 0 (unweighted): the object going bad puts the instance in FAULT; `reverse` inverts
//   (bad when the interface is UP / the script succeeds / the file holds 0).
// weight w ≠ 0, m = reverse ? -1 : 1:  object OK  → + (w > 0 ? w·m : 0)
//                                       object bad → + (w < 0 ? w·m : 0)
//   i.e. a positive weight is added while OK, a negative one is added while failing.
// track_file: value v (clamped to ±254 on read) × w × m, clamped to [-254, 253]; ≤ -254 ⇒ FAULT,
//   otherwise added. Unweighted: v ≠ 0 ⇒ FAULT.
// vrrp_script: rise/fall counters exactly as keepalived (a script that has never run is "init";
//   an unweighted init script keeps the instance out of service: 'pending').
// Result: base + Σ clamped to [1, 254]; an address owner (255) is never adjusted.
// Sync-group members: keepalived forces every tracking weight to 0 (no sync_group_tracking_weight
// in the model), and the group's trackers apply to every member.
import type { SyncGroup, TrackFile, TrackRef, VrrpInstance, VrrpScript } from '../config/model.js';
import type { FaultState } from './fsm.js';

export interface TrackedItem {
  kind: 'interface' | 'script' | 'file';
  name: string;
  weight: number;
  reverse: boolean;
  /** where it was configured (for messages) */
  from: 'instance' | 'group' | 'primary';
}

export interface TrackingSpec {
  basePriority: number;
  items: TrackedItem[];
  warnings: string[];
}

export interface TrackingResult {
  priority: number;
  fault: FaultState;
  /** human-readable causes of fault/pending */
  reasons: string[];
}

/** keepalived's vrrp_script result counter (vrrp_scheduler.c vrrp_script_child_thread). */
export class ScriptCounter {
  private result: number;
  private init: boolean;

  constructor(
    readonly rise: number,
    readonly fall: number,
    initFail: boolean,
  ) {
    this.rise = Math.max(1, rise);
    this.fall = Math.max(1, fall);
    this.init = !initFail;
    this.result = initFail ? 0 : this.rise - 1; // init: one success is enough
  }

  get status(): 'init' | 'ok' | 'fail' {
    if (this.init) return 'init';
    return this.result >= this.rise ? 'ok' : 'fail';
  }

  /** Feed one run's outcome (timeouts and signals are failures). Returns true if status changed. */
  report(success: boolean): boolean {
    const before = this.status;
    const top = this.rise + this.fall - 1;
    if (success) {
      if (this.result < this.rise - 1) this.result++;
      else this.result = top;
    } else if (this.result > this.rise) {
      this.result--;
    } else {
      this.result = 0;
    }
    this.init = false;
    return this.status !== before;
  }
}

/** keepalived reads a track file with strtol(buf, NULL, 0) and clamps to ±254; unreadable = 0. */
export function parseTrackFileValue(text: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(text.slice(0, 127));
  if (!m) return 0;
  const digits = m[2]!;
  const n = /^0[xX]/.test(digits) ? parseInt(digits.slice(2), 16) : digits.startsWith('0') ? parseInt(digits, 8) || 0 : parseInt(digits, 10);
  const v = m[1] === '-' ? -n : n;
  return Math.max(-254, Math.min(254, v));
}

/** Current state of everything trackable, fed by the daemon. */
export class TrackerWorld {
  readonly interfaces = new Map<string, boolean>();
  readonly scripts = new Map<string, ScriptCounter>();
  readonly files = new Map<string, number>();

  constructor(scripts: Record<string, VrrpScript> = {}) {
    for (const s of Object.values(scripts)) this.scripts.set(s.name, new ScriptCounter(s.rise, s.fall, s.initFail));
  }

  setInterface(name: string, up: boolean): boolean {
    const changed = this.interfaces.get(name) !== up;
    this.interfaces.set(name, up);
    return changed;
  }

  scriptResult(name: string, success: boolean): boolean {
    return this.scripts.get(name)?.report(success) ?? false;
  }

  setFile(name: string, value: number): boolean {
    const v = Math.max(-254, Math.min(254, Math.trunc(Number.isFinite(value) ? value : 0)));
    const changed = this.files.get(name) !== v;
    this.files.set(name, v);
    return changed;
  }
}

function refItems(
  kind: TrackedItem['kind'],
  refs: readonly TrackRef[],
  from: TrackedItem['from'],
  dflt: (name: string) => { weight: number; reverse: boolean } | undefined,
  warnings: string[],
): TrackedItem[] {
  const out: TrackedItem[] = [];
  for (const r of refs) {
    const d = dflt(r.name);
    if (!d) {
      warnings.push(`track_${kind} ${r.name} is not defined - ignored`);
      continue;
    }
    const weight = r.weight ?? d.weight;
    const reverse = r.weight !== undefined ? r.reverse : d.reverse || r.reverse;
    out.push({ kind, name: r.name, weight, reverse, from });
  }
  return out;
}

export function trackingSpec(
  inst: VrrpInstance,
  group: SyncGroup | undefined,
  scripts: Record<string, VrrpScript>,
  files: Record<string, TrackFile>,
): TrackingSpec {
  const warnings: string[] = [];
  const ifDefault = () => ({ weight: 0, reverse: false });
  const scDefault = (n: string) => (scripts[n] ? { weight: scripts[n].weight, reverse: scripts[n].weightReverse } : undefined);
  const fDefault = (n: string) => (files[n] ? { weight: files[n].weight, reverse: files[n].weightReverse } : undefined);
  const items: TrackedItem[] = [];
  if (!inst.dontTrackPrimary) items.push({ kind: 'interface', name: inst.interface, weight: 0, reverse: false, from: 'primary' });
  const add = (refs: { i: TrackRef[]; s: TrackRef[]; f: TrackRef[] }, from: TrackedItem['from']) => {
    items.push(...refItems('interface', refs.i, from, ifDefault, warnings));
    items.push(...refItems('script', refs.s, from, scDefault, warnings));
    items.push(...refItems('file', refs.f, from, fDefault, warnings));
  };
  add({ i: inst.trackInterfaces, s: inst.trackScripts, f: inst.trackFiles }, 'instance');
  if (group) {
    add({ i: group.trackInterfaces, s: group.trackScripts, f: group.trackFiles }, 'group');
    for (const it of items) {
      if (it.weight !== 0) {
        warnings.push(`${it.kind} ${it.name}: weight ${it.weight} ignored in sync group ${group.name} (sync-group trackers are unweighted)`);
        it.weight = 0;
      }
    }
  }
  return { basePriority: inst.priority, items, warnings };
}

function weighted(ok: boolean, w: number, reverse: boolean): number {
  const m = reverse ? -1 : 1;
  return ok ? (w > 0 ? w * m : 0) : w < 0 ? w * m : 0;
}

export function computeTracking(spec: TrackingSpec, world: TrackerWorld): TrackingResult {
  let delta = 0;
  let fault = false;
  let pending = false;
  const reasons: string[] = [];
  for (const it of spec.items) {
    if (it.kind === 'interface') {
      const up = world.interfaces.get(it.name) ?? true; // unknown = up until the daemon says otherwise
      if (it.weight === 0) {
        if (up === it.reverse) {
          fault = true;
          reasons.push(`interface ${it.name} ${up ? 'up (reverse)' : 'down'}`);
        }
      } else delta += weighted(up, it.weight, it.reverse);
    } else if (it.kind === 'script') {
      const st = world.scripts.get(it.name)?.status ?? 'init';
      if (it.weight === 0) {
        if (st === 'init') {
          pending = true;
          reasons.push(`script ${it.name} has not run yet`);
        } else if ((st === 'ok') === it.reverse) {
          fault = true;
          reasons.push(`script ${it.name} ${st === 'ok' ? 'succeeding (reverse)' : 'failing'}`);
        }
      } else if (st !== 'init') delta += weighted(st === 'ok', it.weight, it.reverse);
    } else {
      const v = world.files.get(it.name) ?? 0;
      if (it.weight === 0) {
        if ((v !== 0) !== it.reverse) {
          fault = true;
          reasons.push(`track_file ${it.name} = ${v}`);
        }
      } else {
        const s = Math.max(-254, Math.min(253, v * it.weight * (it.reverse ? -1 : 1)));
        if (s <= -254) {
          fault = true;
          reasons.push(`track_file ${it.name} = ${v} (× ${it.weight} ≤ -254)`);
        } else delta += s;
      }
    }
  }
  const priority = spec.basePriority === 255 ? 255 : Math.min(254, Math.max(1, spec.basePriority + delta));
  return { priority, fault: fault ? 'fault' : pending ? 'pending' : 'ok', reasons };
}
