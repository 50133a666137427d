// Memory accounting and scopes.
//
// Every tensor created while a scope is open belongs to that scope. When the scope's function returns,
// every tensor it created is disposed except those reachable from the returned value (which move to the
// enclosing scope) and those passed to keep(). The garbage collector cannot see device memory, so this
// (and explicit dispose()) is how device memory is released.

export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
}

interface DeviceCounters {
  tensors: number;
  storages: number;
  bytes: number;
}

const counters = new Map<string, DeviceCounters>();

function countersFor(device: string): DeviceCounters {
  let c = counters.get(device);
  if (!c) counters.set(device, (c = { tensors: 0, storages: 0, bytes: 0 }));
  return c;
}

export function countTensor(device: string, delta: number): void {
  countersFor(device).tensors += delta;
}

export function countStorage(device: string, bytes: number, delta: number): void {
  const c = countersFor(device);
  c.storages += delta;
  c.bytes += delta * bytes;
}

/** Live tensors, storages and storage bytes on one device (or summed over all). */
export function memoryInfo(device?: string): DeviceCounters {
  if (device !== undefined) return { ...countersFor(device) };
  const total = { tensors: 0, storages: 0, bytes: 0 };
  for (const c of counters.values()) {
    total.tensors += c.tensors;
    total.storages += c.storages;
    total.bytes += c.bytes;
  }
  return total;
}

const scopes: Set<Disposable>[] = [];
const kept = new WeakSet<Disposable>();

export function track(t: Disposable): void {
  const s = scopes[scopes.length - 1];
  if (s) s.add(t);
}

/** Exempt a tensor from the disposal of the scopes that are open now. */
export function keep<T extends Disposable>(t: T): T {
  kept.add(t);
  for (const s of scopes) s.delete(t);
  return t;
}

function collect(value: unknown, out: Set<unknown>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 8) return;
  if ('dispose' in value && 'isDisposed' in value) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, out, depth + 1);
  else if (value instanceof Map) for (const v of value.values()) collect(v, out, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, out, depth + 1);
}

/**
 * Run `fn`; dispose every tensor it created that is not returned (in the result, an array, a Map or a
 * plain object) and not kept. Synchronous functions only: a Promise result is rejected with an error.
 */
export function scope<T>(fn: () => T): T {
  const mine = new Set<Disposable>();
  scopes.push(mine);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of mine) if (!kept.has(t)) t.dispose();
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) {
    for (const t of mine) if (!kept.has(t)) t.dispose();
    throw new Error('scope(): the function returned a Promise; scopes are synchronous');
  }
  const returned = new Set<unknown>();
  collect(result, returned);
  const parent = scopes[scopes.length - 1];
  for (const t of mine) {
    if (returned.has(t)) parent?.add(t);
    else if (!kept.has(t) && !t.isDisposed) t.dispose();
  }
  return result;
}

/** Depth of open scopes (for tests and diagnostics). */
export function scopeDepth(): number {
  return scopes.length;
}
