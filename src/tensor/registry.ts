// Kernels registered by (op, device). An op's CPU kernel registers itself in the op's own file; other
// backends register theirs when they load. A missing kernel is an error naming both.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyKernel = (...args: any[]) => unknown;

const table = new Map<string, AnyKernel>();

export function registerKernel<K extends AnyKernel>(op: string, device: string, fn: K): void {
  table.set(`${op}@${device}`, fn);
}

export function getKernel<K extends AnyKernel>(op: string, device: string): K {
  const k = table.get(`${op}@${device}`);
  if (!k) throw new Error(`no kernel for op '${op}' on device '${device}'`);
  return k as K;
}

export function hasKernel(op: string, device: string): boolean {
  return table.has(`${op}@${device}`);
}

/** Names of the ops that have a kernel on `device`. */
export function kernelsOn(device: string): string[] {
  const suffix = `@${device}`;
  return [...table.keys()].filter((k) => k.endsWith(suffix)).map((k) => k.slice(0, -suffix.length)).sort();
}
