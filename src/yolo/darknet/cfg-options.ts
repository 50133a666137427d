// Typed access to the `key=value` entries of one cfg section, with Darknet's defaults.
//
// Every read marks its key as known to the section (whether or not the file sets it); `finish()`
// then rejects whatever the file set that no read asked for, naming file:line and the known keys.
// Values are checked strictly: Darknet's atoi("3.5") is 3 and atoi("abc") is 0, here both are errors.
// Floats are rounded to float32 (Math.fround), because Darknet stores every such option in a float:
// `thresh=.6` is 0.600000024 there and here.

import type { RawEntry, RawSection } from './cfg-text.js';
import { DarknetCfgError } from './errors.js';

const INT_RE = /^[+-]?\d+$/;
const FLOAT_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export interface IntRange {
  readonly min?: number;
  readonly max?: number;
}

export interface FloatRange {
  readonly min?: number;
  readonly max?: number;
  /** The value must be strictly greater than `min`. */
  readonly minExclusive?: boolean;
  /** The value must be strictly smaller than `max`. */
  readonly maxExclusive?: boolean;
}

/** Source lines of the keys a section sets: key → 1-based line. */
export type KeyLines = Readonly<Record<string, number>>;

export class SectionOptions {
  readonly file: string;
  readonly section: RawSection;
  /** How the section is named in messages, e.g. `[convolutional] (layer 3)`. */
  readonly label: string;
  private readonly known = new Set<string>();
  private readonly byKey = new Map<string, RawEntry>();

  constructor(file: string, section: RawSection, label: string) {
    this.file = file;
    this.section = section;
    this.label = label;
    for (const e of section.entries) this.byKey.set(e.key, e);
  }

  /** True when the file sets `key` (marks it known). */
  has(key: string): boolean {
    this.known.add(key);
    return this.byKey.has(key);
  }

  /** Line of `key` if the file sets it, else the section header's line. */
  lineOf(key: string): number {
    return this.byKey.get(key)?.line ?? this.section.line;
  }

  keyLines(): KeyLines {
    const out: Record<string, number> = {};
    for (const e of this.section.entries) out[e.key] = e.line;
    return out;
  }

  /** Throws a DarknetCfgError at the line of `key` (or of the section header). */
  fail(key: string | null, detail: string): never {
    const fromOverride = key !== null && this.byKey.get(key)?.line === 0;
    const line = key === null ? this.section.line : this.lineOf(key);
    throw new DarknetCfgError(this.file, line, `${this.label}: ${detail}${fromOverride ? ' (set by an override)' : ''}`);
  }

  private raw(key: string): RawEntry | undefined {
    this.known.add(key);
    return this.byKey.get(key);
  }

  private checkRange(key: string, v: number, r: FloatRange): void {
    const lo = r.min, hi = r.max;
    if (lo !== undefined && (r.minExclusive === true ? !(v > lo) : !(v >= lo))) {
      this.fail(key, `${key}=${v} must be ${r.minExclusive === true ? '>' : '>='} ${lo}`);
    }
    if (hi !== undefined && (r.maxExclusive === true ? !(v < hi) : !(v <= hi))) {
      this.fail(key, `${key}=${v} must be ${r.maxExclusive === true ? '<' : '<='} ${hi}`);
    }
  }

  private parseInt(key: string, text: string): number {
    if (!INT_RE.test(text)) this.fail(key, `${key}='${text}' is not an integer`);
    const v = Number(text);
    if (!Number.isSafeInteger(v) || Math.abs(v) > 0x7fffffff) this.fail(key, `${key}=${text} is out of the int32 range`);
    return v;
  }

  private parseFloat(key: string, text: string): number {
    if (!FLOAT_RE.test(text)) this.fail(key, `${key}='${text}' is not a number`);
    const v = Math.fround(Number(text));
    if (!Number.isFinite(v)) this.fail(key, `${key}=${text} does not fit in a float32`);
    return v;
  }

  int(key: string, def: number, range: IntRange = {}): number {
    const e = this.raw(key);
    if (e === undefined) return def;
    const v = this.parseInt(key, e.value);
    this.checkRange(key, v, range);
    return v;
  }

  /** A Darknet 0/1 switch. */
  flag(key: string, def: boolean): boolean {
    const e = this.raw(key);
    if (e === undefined) return def;
    if (e.value !== '0' && e.value !== '1') this.fail(key, `${key}='${e.value}' must be 0 or 1`);
    return e.value === '1';
  }

  float(key: string, def: number, range: FloatRange = {}): number {
    const e = this.raw(key);
    if (e === undefined) return Math.fround(def);
    const v = this.parseFloat(key, e.value);
    this.checkRange(key, v, range);
    return v;
  }

  str<T extends string>(key: string, def: T, allowed: readonly T[]): T {
    const e = this.raw(key);
    if (e === undefined) return def;
    const v = allowed.find((a) => a === e.value);
    if (v === undefined) this.fail(key, `${key}='${e.value}' is not one of ${allowed.join(', ')}`);
    return v;
  }

  private list(key: string): string[] | null {
    const e = this.raw(key);
    if (e === undefined) return null;
    const items = e.value.split(',');
    if (items.some((s) => s === '')) this.fail(key, `${key}='${e.value}' has an empty item`);
    return items;
  }

  intList(key: string, range: IntRange = {}): number[] | null {
    const items = this.list(key);
    if (items === null) return null;
    return items.map((s) => {
      const v = this.parseInt(key, s);
      this.checkRange(key, v, range);
      return v;
    });
  }

  floatList(key: string, range: FloatRange = {}): number[] | null {
    const items = this.list(key);
    if (items === null) return null;
    return items.map((s) => {
      const v = this.parseFloat(key, s);
      this.checkRange(key, v, range);
      return v;
    });
  }

  /**
   * A key Darknet knows but tsgrad does not implement. Accepted only when it is absent or set to
   * Darknet's default `harmless` (so `binary=0` passes); otherwise a clear error.
   */
  unsupported(key: string, harmless: string | null, why: string): void {
    const e = this.raw(key);
    if (e === undefined || (harmless !== null && e.value === harmless)) return;
    this.fail(key, `${key}=${e.value} is not supported by tsgrad (${why})`);
  }

  /** Rejects the first key the section sets that no read asked for. */
  finish(): void {
    for (const e of this.section.entries) {
      if (!this.known.has(e.key)) {
        const known = [...this.known].sort().join(', ');
        const how = e.line === 0 ? ' (set by an override)' : '';
        throw new DarknetCfgError(this.file, e.line, `${this.label}: unknown key '${e.key}'${how} (known keys: ${known})`);
      }
    }
  }
}
