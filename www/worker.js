// Web worker entry point (a module worker): the same wasm module as the page,
// started in worker mode. See src/worker.rs.
import init, { start_worker } from './pkg/flowlens.js';

await init();
start_worker();
