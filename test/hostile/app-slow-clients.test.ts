import * as net from 'node:net';
import { DbConfig, DEFAULT_LIMITS } from '../../app/config';
import { runServer, RunningApp } from '../../app/main';
import { LocalMariaDb } from '../../src/local/mariadb';
import { freePort } from '../../src/local/ports';
import { startSeededDb } from '../app/support';

// Issue 16, item 5: clients that send their request slowly must not lock real requests out.
let db: LocalMariaDb;
let config: DbConfig;
let app: RunningApp;
let base: string;
const sockets: net.Socket[] = [];

beforeAll(async () => {
  ({ db, config } = await startSeededDb({ courses: 43, students: 400 }));
  app = await runServer({
    port: await freePort(),
    db: config,
    // A small in-flight limit, so that a few dozen slow clients would fill it; short timeouts for the test.
    limits: { ...DEFAULT_LIMITS, maxInFlight: 16, headersTimeoutMs: 2000, requestTimeoutMs: 4000 },
    logLevel: 'silent',
  });
  base = `http://127.0.0.1:${app.port}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await app?.close();
  await db?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A raw connection that records what the server sent and when it closed. */
function open(): Promise<{ socket: net.Socket; received: () => string; closedAt: () => number | undefined }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(app.port, '127.0.0.1');
    sockets.push(socket);
    let data = '';
    let closedAt: number | undefined;
    socket.on('data', (d) => (data += d));
    socket.on('close', () => (closedAt = Date.now()));
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, received: () => data, closedAt: () => closedAt }));
    socket.once('error', reject);
  });
}

test('40 POSTs sending their body a byte at a time: real requests are served, the slow ones cut at the request timeout', async () => {
  const body = JSON.stringify({ studentId: 1, courseId: 1 });
  const slow = await Promise.all(Array.from({ length: 40 }, open));
  const started = Date.now();
  for (const c of slow)
    c.socket.write(
      `POST /api/registrations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
  let sent = 0;
  const drip = setInterval(() => {
    for (const c of slow) if (!c.socket.destroyed) c.socket.write(body[sent % body.length]);
    sent++;
  }, 300);
  try {
    await sleep(1000); // every slow request has its headers in and its body on the way
    const real = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        i % 2 ? fetch(`${base}/api/courses`) : fetch(`${base}/courses`, { headers: { accept: 'text/html' } }),
      ),
    );
    expect(real.map((r) => r.status)).toEqual(Array(10).fill(200));
    const health = (await (await fetch(`${base}/healthz`)).json()) as { inFlight: number; shed: number };
    expect(health.inFlight).toBe(0);
    expect(health.shed).toBe(0);
    // The request timeout (4 s) plus node's check interval (1 s) ends them, with a 408.
    for (let i = 0; i < 40 && slow.some((c) => c.closedAt() === undefined); i++) await sleep(250);
    for (const c of slow) {
      expect(c.closedAt()).toBeDefined();
      expect(c.closedAt()! - started).toBeLessThan(7000);
      expect(c.received()).toMatch(/^HTTP\/1\.1 408/);
    }
  } finally {
    clearInterval(drip);
  }
  expect(db.sql('SELECT COUNT(*) FROM registrations', 'course_selection').trim()).toBe('0');
});

test('headers sent a byte at a time (slowloris) are cut at the headers timeout', async () => {
  const slow = await Promise.all(Array.from({ length: 20 }, open));
  const started = Date.now();
  const head = 'GET /courses HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(1000);
  let sent = 0;
  const drip = setInterval(() => {
    for (const c of slow) if (!c.socket.destroyed) c.socket.write(head[sent % head.length]);
    sent++;
  }, 200);
  try {
    expect((await fetch(`${base}/courses`)).status).toBe(200);
    for (let i = 0; i < 40 && slow.some((c) => c.closedAt() === undefined); i++) await sleep(250);
    for (const c of slow) {
      expect(c.closedAt()).toBeDefined();
      expect(c.closedAt()! - started).toBeLessThan(5000);
    }
  } finally {
    clearInterval(drip);
  }
});
