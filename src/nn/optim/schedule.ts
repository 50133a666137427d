// Learning-rate policies as Darknet reads them from [net] (get_current_rate in network.c), as pure
// functions of the batch number: constant, step, steps, exp, poly, sig, each with an optional burn-in
// (lr * (batch/burn_in)^power for the first burn_in batches).

export type LrPolicy =
  | { policy: 'constant' }
  | { policy: 'step'; step: number; scale: number }
  | { policy: 'steps'; steps: number[]; scales: number[] }
  | { policy: 'exp'; gamma: number }
  | { policy: 'poly'; power: number; maxBatches: number }
  | { policy: 'sig'; gamma: number; step: number };

export interface LrSchedule {
  lr: number;
  burnIn?: number;
  /** Exponent of the burn-in ramp (Darknet's `power`, default 4). */
  burnInPower?: number;
  policy: LrPolicy;
}

export function learningRate(s: LrSchedule, batchNum: number): number {
  const burnIn = s.burnIn ?? 0;
  if (batchNum < burnIn) return s.lr * Math.pow(batchNum / burnIn, s.burnInPower ?? 4);
  const p = s.policy;
  switch (p.policy) {
    case 'constant':
      return s.lr;
    case 'step':
      return s.lr * Math.pow(p.scale, Math.floor(batchNum / p.step));
    case 'steps': {
      let rate = s.lr;
      for (let i = 0; i < p.steps.length; i++) {
        if (p.steps[i]! > batchNum) return rate;
        rate *= p.scales[i] ?? 1;
      }
      return rate;
    }
    case 'exp':
      return s.lr * Math.pow(p.gamma, batchNum);
    case 'poly':
      return s.lr * Math.pow(1 - batchNum / p.maxBatches, p.power);
    case 'sig':
      return s.lr * (1 / (1 + Math.exp(p.gamma * (batchNum - p.step))));
  }
}
