// Element types. float32 is the working type (and the only one on CUDA devices); float64 exists for
// reference checks and gradcheck; int32 holds indices and class targets.

export type DType = 'float32' | 'float64' | 'int32';
export type TypedArray = Float32Array | Float64Array | Int32Array;

export const DTYPES: readonly DType[] = ['float32', 'float64', 'int32'];

export function bytesPerElement(dtype: DType): number {
  return dtype === 'float64' ? 8 : 4;
}

export function allocArray(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size);
    case 'float64':
      return new Float64Array(size);
    case 'int32':
      return new Int32Array(size);
  }
}

export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  return 'int32';
}

export function isFloat(dtype: DType): boolean {
  return dtype !== 'int32';
}

export function assertDType(x: string): DType {
  if ((DTYPES as readonly string[]).includes(x)) return x as DType;
  throw new Error(`unknown dtype '${x}' (expected one of ${DTYPES.join(', ')})`);
}
