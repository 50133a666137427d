// Flat elementwise loops for the thread pool (tasks.ts): out[o + i] = expr(x0, x1) over a range of i,
// each input either contiguous (x_k = f[a_k + i]) or one broadcast value (x_k = f[a_k]), float32.
// The expression is the serial kernel's (unary.ts / binary.ts tables, run by strided.ts), so the bits
// are the same. A loop is compiled once per (arity, expression) on the thread that defines it and on
// every worker, which receives the definition through its message port (parallel.ts) before it first
// runs the loop.

export type FlatLoop = (
  f: Float32Array, o: number, a0: number, s0: number, a1: number, s1: number,
  p0: number, p1: number, p2: number, start: number, end: number,
) => void;

const loops: FlatLoop[] = [];
const ids = new Map<string, number>();
let onDefine: ((id: number, arity: number, expr: string) => void) | null = null;
let onMissing: (() => void) | null = null;

function compile(arity: number, expr: string): FlatLoop {
  const body = (s0: boolean, s1: boolean): string => {
    const x0 = s0 ? 'const x0 = f[a0 + i];' : '';
    const x1 = arity < 2 ? '' : s1 ? 'const x1 = f[a1 + i];' : '';
    return `for (let i = start; i < end; i++) { ${x0} ${x1} f[o + i] = ${expr}; }`;
  };
  const hoist0 = 'const x0 = f[a0];';
  const hoist1 = arity < 2 ? '' : 'const x1 = f[a1];';
  const src =
    arity < 2
      ? `if (s0 === 1) { ${body(true, false)} } else { ${hoist0} ${body(false, false)} }`
      : `if (s0 === 1 && s1 === 1) { ${body(true, true)} }
         else if (s0 === 1) { ${hoist1} ${body(true, false)} }
         else if (s1 === 1) { ${hoist0} ${body(false, true)} }
         else { ${hoist0} ${hoist1} ${body(false, false)} }`;
  return new Function('f', 'o', 'a0', 's0', 'a1', 's1', 'p0', 'p1', 'p2', 'start', 'end', src) as FlatLoop;
}

/** Id of the loop for (arity, expr), compiled and announced to the workers on first use. */
export function flatLoopId(arity: number, expr: string): number {
  const key = `${arity}|${expr}`;
  let id = ids.get(key);
  if (id === undefined) {
    id = loops.length;
    loops.push(compile(arity, expr));
    ids.set(key, id);
    onDefine?.(id, arity, expr);
  }
  return id;
}

/** Installs a loop defined on another thread (a worker receiving a definition). */
export function installFlatLoop(id: number, arity: number, expr: string): void {
  loops[id] = compile(arity, expr);
  ids.set(`${arity}|${expr}`, id);
}

/** The loop with this id (fetching pending definitions first when it is not known yet). */
export function elementwiseFlatLoop(id: number): FlatLoop {
  let l = loops[id];
  if (l === undefined) {
    onMissing?.();
    l = loops[id];
    if (l === undefined) throw new Error(`elementwise loop ${id} was never defined on this thread`);
  }
  return l;
}

/** Every definition so far (for a worker that starts later). */
export function flatLoopDefinitions(): { id: number; arity: number; expr: string }[] {
  return [...ids].map(([key, id]) => {
    const bar = key.indexOf('|');
    return { id, arity: Number(key.slice(0, bar)), expr: key.slice(bar + 1) };
  });
}

/** Hooks: the defining thread announces new loops; a worker fetches definitions it lacks. */
export function setFlatLoopHooks(define: typeof onDefine, missing: typeof onMissing): void {
  onDefine = define;
  onMissing = missing;
}
