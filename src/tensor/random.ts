// Seeded random numbers, reproducible across runs, machines and devices.
//
// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a counter-based
// generator. Output block i of a stream is a pure function of (key = seed, counter = i), so a GPU kernel
// can produce element i without any shared state and get the same numbers as this CPU code. Only 32-bit
// integer multiplies are needed (Math.imul for the low half, a split product for the high half).

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two uint32 values. */
function mulhi32(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const lo = aLo * bLo;
  const mid1 = aHi * bLo;
  const mid2 = aLo * bHi;
  const carry = ((lo >>> 16) + (mid1 & 0xffff) + (mid2 & 0xffff)) >>> 16;
  return (aHi * bHi + (mid1 >>> 16) + (mid2 >>> 16) + carry) >>> 0;
}

/**
 * One Philox4x32-10 block: 4 uint32 outputs for counter (c0..c3) and key (k0, k1), written to `out`.
 */
export function philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array): void {
  let x0 = c0 >>> 0;
  let x1 = c1 >>> 0;
  let x2 = c2 >>> 0;
  let x3 = c3 >>> 0;
  let key0 = k0 >>> 0;
  let key1 = k1 >>> 0;
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi32(M0, x0);
    const lo0 = Math.imul(M0, x0) >>> 0;
    const hi1 = mulhi32(M1, x2);
    const lo1 = Math.imul(M1, x2) >>> 0;
    const n0 = (hi1 ^ x1 ^ key0) >>> 0;
    const n2 = (hi0 ^ x3 ^ key1) >>> 0;
    x0 = n0;
    x1 = lo1;
    x2 = n2;
    x3 = lo0;
    key0 = (key0 + W0) >>> 0;
    key1 = (key1 + W1) >>> 0;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
}

/** uint32 → float in [0, 1) with 24 random bits (exactly representable in float32). */
export function u32ToUnit(u: number): number {
  return (u >>> 8) * (1 / 16777216);
}

/** uint32 → float in (0, 1]: safe for log() in Box-Muller. */
export function u32ToUnitOpen(u: number): number {
  return ((u >>> 8) + 1) * (1 / 16777216);
}

/**
 * A seeded stream. The state is (seed, counter): `state()` / `Rng.fromState()` save and restore it
 * exactly (training checkpoints use this for exact resume).
 */
export class Rng {
  private readonly key0: number;
  private readonly key1: number;
  private counter = 0;
  private readonly block = new Uint32Array(4);
  private used = 4;

  constructor(readonly seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`Rng: seed must be a finite number, got ${seed}`);
    const s = Math.trunc(seed);
    this.key0 = s >>> 0;
    this.key1 = Math.floor(s / 4294967296) >>> 0;
  }

  /** Exact state for checkpoints. */
  state(): { seed: number; counter: number; used: number } {
    return { seed: this.seed, counter: this.counter, used: this.used };
  }

  static fromState(st: { seed: number; counter: number; used: number }): Rng {
    const r = new Rng(st.seed);
    if (st.used < 4) {
      r.counter = st.counter - 1;
      r.refill();
      r.used = st.used;
    } else {
      r.counter = st.counter;
      r.used = 4;
    }
    return r;
  }

  private refill(): void {
    const c = this.counter;
    philox4x32(c >>> 0, Math.floor(c / 4294967296) >>> 0, 0, 0, this.key0, this.key1, this.block);
    this.counter = c + 1;
    this.used = 0;
  }

  /** The key (seed low and high 32 bits) of the Philox blocks of this stream. */
  get key(): readonly [number, number] {
    return [this.key0, this.key1];
  }

  /** Stream index of the next word nextU32() returns (word w is lane w % 4 of block floor(w / 4)). */
  get position(): number {
    return this.used < 4 ? (this.counter - 1) * 4 + this.used : this.counter * 4;
  }

  /** Skips k words, leaving the stream exactly where k nextU32() calls would. */
  skip(k: number): void {
    const p = this.position + k;
    const b = Math.floor(p / 4);
    const r = p - 4 * b;
    this.counter = b;
    if (r === 0) {
      this.used = 4;
    } else {
      this.refill();
      this.used = r;
    }
  }

  /** Next uint32. */
  nextU32(): number {
    if (this.used >= 4) this.refill();
    return this.block[this.used++]!;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return u32ToUnit(this.nextU32());
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Integer in [0, n). */
  int(n: number): number {
    if (!(n > 0)) throw new Error(`Rng.int: n must be positive, got ${n}`);
    return Math.min(n - 1, Math.floor(this.uniform() * n));
  }

  /** Standard normal (Box-Muller; one of the pair is used so that the stream position stays simple). */
  normal(mean = 0, std = 1): number {
    const u1 = u32ToUnitOpen(this.nextU32());
    const u2 = u32ToUnit(this.nextU32());
    return mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i]!;
      items[i] = items[j]!;
      items[j] = t;
    }
    return items;
  }

  /** An independent child stream (e.g. one per worker), derived deterministically. */
  fork(): Rng {
    return new Rng(this.nextU32() * 65536 + (this.nextU32() & 0xffff));
  }
}
