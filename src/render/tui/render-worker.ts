// Worker thread of DisplayRenderer: turns a copy of the surface (B,G,R,A bytes) into sixel or ANSI
// text, off the event loop that runs the channels. One job at a time; no Ink, no sockets.
import { parentPort } from 'node:worker_threads';
import { renderJob, type RenderRequest } from './render-job.js';

parentPort?.on('message', (req: RenderRequest) => {
  const t0 = performance.now();
  try {
    const text = renderJob(req);
    parentPort!.postMessage({ id: req.id, text, ms: performance.now() - t0 });
  } catch (e) {
    parentPort!.postMessage({ id: req.id, error: (e as Error)?.message ?? String(e) });
  }
});
