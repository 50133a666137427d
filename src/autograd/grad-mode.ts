// Whether ops record the graph. Off inside noGrad() and while a backward pass runs.

let enabled = true;

export function isGradEnabled(): boolean {
  return enabled;
}

/** Run `fn` without recording the graph (inference, optimiser updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}

/** Run `fn` with recording explicitly on or off. */
export function withGradMode<T>(on: boolean, fn: () => T): T {
  const prev = enabled;
  enabled = on;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}
