import * as mysql from 'mysql2';
import type { Connection } from 'mysql2/promise';

/**
 * Sends SQL held as bytes (a chunk of the dump's INSERTs) as one COM_QUERY, without turning it into a
 * JavaScript string. mysql2 takes only strings: the chunk was decoded to latin1, joined, and encoded back
 * into the packet, three copies of every byte plus the garbage of MB-sized strings. Measured on the
 * 254 MiB bench dump: 380 ms of CPU for the strings against 45 ms for one concatenation of the bytes, on a
 * machine whose two cores the server needs for itself (BENCHMARKS.md, "Dump import").
 *
 * How: a mysql2 Query command (its results, errors, timeouts and sequence ids stay mysql2's) whose
 * `start` is given a one-off `writePacket` that swaps the packet mysql2 built for `label` with one that
 * carries the same header and the bytes. mysql2 has no public way to send bytes; this relies on Query's
 * `start` writing its one packet with `connection.writePacket`, which test/sql/buffer-query.test.ts
 * checks on the installed version (every byte value arrives as sent; errors keep their fields).
 *
 * The connection must talk `binary` (./connect): the bytes are then exactly what the server reads.
 */
export function queryBuffer(conn: Connection, parts: readonly Buffer[], label: string): Promise<unknown> {
  const raw = (conn as unknown as { connection: RawConnection }).connection;
  return new Promise((resolve, reject) => {
    // createQuery is exported by mysql2's index.js but not declared in its typings.
    const create = (mysql as unknown as { createQuery: CreateQuery }).createQuery;
    const cmd = create(label, (err, result) => (err ? reject(err) : resolve(result)), undefined, raw.config);
    const start = cmd.start;
    cmd.start = function (this: QueryCommand, packet: unknown, connection: RawConnection) {
      const write = connection.writePacket;
      connection.writePacket = function (this: RawConnection, built: Packet) {
        connection.writePacket = write;
        const header = built.buffer.subarray(0, built.buffer.length - Buffer.byteLength(label, 'latin1'));
        const PacketOf = built.constructor as new (id: number, buffer: Buffer, start: number, end: number) => Packet;
        let payload = header.length - 4;
        for (const p of parts) payload += p.length;
        if (payload >= MAX_PAYLOAD) {
          // mysql2 splits a query of 16 MiB and more into packets: given it whole.
          const bytes = Buffer.concat([header, ...parts]);
          const out = new PacketOf(0, bytes, 0, bytes.length);
          out.offset = bytes.length;
          return write.call(this, out);
        }
        // The packet's header and command byte, then the parts as they are, in one corked write (writev).
        const head = Buffer.from(header);
        const out = new PacketOf(0, head, 0, head.length);
        out.offset = head.length;
        out.writeHeader = (sequenceId: number) => {
          head.writeUIntLE(payload, 0, 3);
          head[3] = sequenceId;
        };
        this.stream.cork();
        try {
          write.call(this, out);
          for (const p of parts) this.write(p);
        } finally {
          this.stream.uncork();
        }
        return undefined;
      };
      try {
        return start.call(this, packet, connection);
      } finally {
        connection.writePacket = write;
      }
    };
    raw.query(cmd);
  });
}

const SEPARATOR = Buffer.from('\n;\n');

/**
 * `head`, the statements' bytes separated by "\n;\n" (the newline ends a trailing `#`/`--` comment before
 * the separator), then `tail`: the parts of one multi-statement query.
 */
export function statementParts(head: Buffer, stmts: readonly { readonly sql: Buffer }[], tail: Buffer): Buffer[] {
  const parts = [head];
  for (let i = 0; i < stmts.length; i++) {
    if (i) parts.push(SEPARATOR);
    parts.push(stmts[i].sql);
  }
  parts.push(tail);
  return parts;
}

/** The largest payload of one MySQL packet (2^24 - 1 bytes). */
const MAX_PAYLOAD = 0xffffff;

interface Packet {
  readonly buffer: Buffer;
  offset: number;
  writeHeader(sequenceId: number): void;
}

type CreateQuery = (
  sql: string,
  cb: (err: unknown, result: unknown) => void,
  values: undefined,
  config: unknown,
) => QueryCommand;

interface RawConnection {
  readonly config: unknown;
  readonly stream: { cork(): void; uncork(): void };
  write(buffer: Buffer): void;
  writePacket(packet: Packet): unknown;
  query(cmd: QueryCommand): unknown;
}

interface QueryCommand {
  start(packet: unknown, connection: RawConnection): unknown;
}
