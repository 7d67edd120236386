import type { IncomingMessage, ServerResponse } from 'node:http';
import { queuePage } from './html';

/**
 * Admission by event-loop lag. When the process is short of CPU, requests wait in socket buffers and in the
 * event loop's queue before any counter sees them, so an in-flight limit alone does not shed and every answer
 * gets slow. The lag of a timer is that wait: above `maxLagMs` the share of requests admitted shrinks by a
 * fifth per sample; below it, it grows back by a twentieth (AIMD), so it settles where the admitted work fits.
 */
export class LagShedder {
  private admitShare = 1;
  private timer?: NodeJS.Timeout;
  /** The smoothed lag, milliseconds. */
  lagMs = 0;

  constructor(
    private readonly maxLagMs: number,
    private readonly sampleMs = 10,
  ) {}

  start(): void {
    let expected = performance.now() + this.sampleMs;
    const tick = () => {
      const now = performance.now();
      this.lagMs = 0.7 * this.lagMs + 0.3 * Math.max(0, now - expected);
      this.admitShare =
        this.lagMs > this.maxLagMs ? Math.max(0.02, this.admitShare * 0.8) : Math.min(1, this.admitShare + 0.05);
      expected = now + this.sampleMs;
      this.timer = setTimeout(tick, this.sampleMs).unref();
    };
    this.timer = setTimeout(tick, this.sampleMs).unref();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** The share of new requests admitted now, 0.02 to 1. */
  get share(): number {
    return this.admitShare;
  }

  admit(): boolean {
    return this.admitShare >= 1 || Math.random() < this.admitShare;
  }
}

/** Whether a 503 goes to a browser (the queue page) or to an API client (JSON). */
export function wantsHtmlRaw(url: string, accept: string | undefined): boolean {
  return !url.startsWith('/api/') && (accept ?? '').includes('text/html');
}

/** Where the queue page sends the browser back to: the page the form is on; only a local path. */
export function retryUrlFor(method: string, url: string): string {
  // A form POST cannot be replayed by a refresh; send the browser back to the page the form is on.
  const path = method === 'GET' ? url : url.replace(/\/(register|drop)$/, '');
  // Only a local path: `//host/...` would make the refresh an open redirect.
  return /^\/(?![/\\])/.test(path) ? path : '/courses';
}

/**
 * The 503 answer written straight on the node:http response, bytes prepared once: shedding has to cost far less
 * than serving, or at twice the capacity the shed requests eat the CPU the served ones need.
 */
export function busyResponder(retryAfterSeconds: number): (req: IncomingMessage, res: ServerResponse) => void {
  const json = Buffer.from(JSON.stringify({ error: 'overloaded, retry later', retryAfterSeconds }));
  const common = { 'retry-after': String(retryAfterSeconds), 'cache-control': 'no-store' };
  const jsonHeaders = { ...common, 'content-type': 'application/json; charset=utf-8', 'content-length': json.length };
  const pages = new Map<string, { body: Buffer; headers: Record<string, string | number> }>();
  const pageFor = (retryUrl: string) => {
    let p = pages.get(retryUrl);
    if (!p) {
      const body = Buffer.from(queuePage(retryAfterSeconds, retryUrl));
      p = { body, headers: { ...common, 'content-type': 'text/html; charset=utf-8', 'content-length': body.length } };
      // Bounded: request paths come from clients.
      if (pages.size < 256) pages.set(retryUrl, p);
    }
    return p;
  };
  return (req, res) => {
    const url = req.url ?? '/';
    if (wantsHtmlRaw(url, req.headers.accept)) {
      const p = pageFor(retryUrlFor(req.method ?? 'GET', url));
      res.writeHead(503, p.headers);
      res.end(p.body);
    } else {
      res.writeHead(503, jsonHeaders);
      res.end(json);
    }
  };
}
