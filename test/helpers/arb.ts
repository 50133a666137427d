// The fast-check arbitraries of the property tests: the public ones of tsgrad/testing (src/testing),
// under the names the tests use for host tensors ("refs", see ref.ts).
//
// fast-check prints the seed and path of a failing run; set FC_SEED=<seed> to replay one, FC_RUNS=<n>
// to change the number of runs.

export {
  broadcastShapesArb,
  convGeometryArb,
  dimsArb,
  distinctHostTensorArb as distinctRefArb,
  hostTensorArb as refArb,
  runs,
  shapeArb,
  valueArb,
  type ValueKind,
} from '../../src/testing/index.js';
