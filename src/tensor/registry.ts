// Kernels registered by (op, device). An op's CPU kernel registers itself in the op's own file; other
// backends register theirs when they load. A missing kernel is an error naming both.
//
// Every launch goes through a check that its tensor arguments (and tensors inside array arguments)
// are alive: a disposed tensor's storage may already belong to another tensor on a device, so a kernel
// reading or writing it would be a silent wrong result. The error names the op, the device, the
// argument and the tensor.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyKernel = (...args: any[]) => unknown;

/** What the launch check needs of a tensor (duck-typed: the registry sits below tensor.ts). */
interface LiveCheck {
  readonly id: number;
  readonly shape: readonly number[];
  readonly isDisposed: boolean;
  readonly storage: { readonly isFreed: boolean };
}

function isTensorLike(a: unknown): a is LiveCheck {
  return typeof a === 'object' && a !== null && 'isDisposed' in a && 'storage' in a && 'shape' in a;
}

function deadArgument(op: string, device: string, args: readonly unknown[]): string | null {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const list = Array.isArray(a) ? a : [a];
    for (let k = 0; k < list.length; k++) {
      const t = list[k];
      if (isTensorLike(t) && (t.isDisposed || t.storage.isFreed)) {
        const where = Array.isArray(a) ? `argument ${i} item ${k}` : `argument ${i}`;
        return `kernel '${op}' on '${device}': ${where} is tensor #${t.id} [${t.shape.join(', ')}], which was disposed (use after dispose)`;
      }
    }
  }
  return null;
}

function checked<K extends AnyKernel>(op: string, device: string, fn: K): K {
  const wrapped = (...args: unknown[]): unknown => {
    const dead = deadArgument(op, device, args);
    if (dead !== null) throw new Error(dead);
    return fn(...args);
  };
  return wrapped as K;
}

const table = new Map<string, AnyKernel>();

export function registerKernel<K extends AnyKernel>(op: string, device: string, fn: K): void {
  table.set(`${op}@${device}`, checked(op, device, fn));
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
