// `tsgrad info`: what this process can run on.

import { listDevices } from '../tensor/device.js';
import { kernelsOn } from '../tensor/registry.js';
import '../index.js';
import '../backends/cuda/index.js';

export async function infoCommand(_argv: string[]): Promise<number> {
  console.log(`tsgrad: node ${process.version}, ${process.platform}-${process.arch}`);
  for (const d of listDevices()) {
    const status = d.available ? 'available' : `unavailable (${d.reason})`;
    console.log(`device ${d.name}: ${status}; dtypes ${d.dtypes.join(', ')}; ${kernelsOn(d.name).length} kernels`);
  }
  return 0;
}
