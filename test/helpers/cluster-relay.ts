/**
 * Cutting traffic between real cluster processes: a TCP relay in front of each node's heartbeat
 * and fabric ports. Nodes are told (cluster.*.accessAddress) to publish the relays' addresses,
 * so every frame another node sends them passes through a relay, which forwards whole frames
 * and drops those whose sender (the frame's `node` / `from`) is blocked — a one-way cut, as a
 * firewall dropping packets would make. `cut(a, b)` blocks both ways; `heal()` lifts every cut.
 *
 * With a cluster secret the relays work unchanged and need no secret: a signed frame is the same
 * length-prefixed payload (the frame first, its counter and HMAC after), so the sender is read
 * the same way; the relay forwards a frame's bytes untouched (the receiver checks the signature
 * over exactly what the sender signed), passes the receiver's challenge back to the sender, and
 * a dropped frame only leaves a gap in the connection's counters, which the receiver accepts
 * (counters must increase, not be consecutive). `challenged` counts connections on which the
 * receiving node spoke (only a challenge does): non-zero proves the nodes sign their frames.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { frameReader } from '../../core/cluster/tcp-transport.ts';
import { BINARY_ACK, BINARY_MESSAGE } from '../../core/cluster/frame-codec.ts';

/** The sender of a JSON frame: `{"t":"pulse","node":{"$n":"…"}` or `{"t":"msg","from":…`. */
const SENDER = /^\{"t":"[a-z]+","(?:node|from)":\{"\$n":"(\d+)"\}/;

/** The sender (decimal) of a frame: a binary frame (data-path message, ack) names it in bytes 1–8, a JSON frame first. */
function senderOf(payload: Buffer): string | undefined {
  if ((payload[0] === BINARY_MESSAGE || payload[0] === BINARY_ACK) && payload.length >= 9) return payload.readBigUInt64BE(1).toString();
  return SENDER.exec(payload.subarray(0, 120).toString('latin1'))?.[1];
}

/** A free port on 127.0.0.1 (listened on, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export class FrameRelay {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  /** Sender node ids (decimal) whose frames are dropped. */
  readonly blocked = new Set<string>();
  dropped = 0;
  forwarded = 0;
  /** Connections on which the receiving node sent bytes back: its challenge (with a cluster secret). */
  challenged = 0;
  readonly port: number;
  /** The node's own port the relay forwards to (changed by retarget when the node moves to another). */
  #target: number;

  private constructor(server: Server, port: number, target: number) {
    this.#server = server;
    this.port = port;
    this.#target = target;
  }

  /** Listens on a free 127.0.0.1 port and relays to `targetPort`. */
  static async open(targetPort: number): Promise<FrameRelay> {
    let relay: FrameRelay | undefined;
    const server = createServer((inbound) => relay?.onConnection(inbound));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    relay = new FrameRelay(server, (server.address() as { port: number }).port, targetPort);
    return relay;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Forwards new connections to `targetPort` from now on. */
  retarget(targetPort: number): void {
    this.#target = targetPort;
  }

  private onConnection(inbound: Socket): void {
    const outbound = connect(this.#target, '127.0.0.1');
    this.#sockets.add(inbound);
    this.#sockets.add(outbound);
    const end = (): void => {
      inbound.destroy();
      outbound.destroy();
      this.#sockets.delete(inbound);
      this.#sockets.delete(outbound);
    };
    inbound.on('error', end).on('close', end);
    outbound.on('error', end).on('close', end);
    const reader = frameReader(64 * 1024 * 1024, (payload) => {
      const sender = senderOf(payload);
      if (sender !== undefined && this.blocked.has(sender)) {
        this.dropped++;
        return;
      }
      this.forwarded++;
      const head = Buffer.allocUnsafe(4);
      head.writeUInt32BE(payload.length, 0);
      outbound.write(head);
      outbound.write(Buffer.from(payload)); // the payload may be a view into a chunk reused later
    }, () => end());
    inbound.on('data', (chunk: Buffer) => {
      if (!reader.push(chunk)) end();
    });
    let spoke = false;
    outbound.on('data', (chunk: Buffer) => {
      if (!spoke) {
        spoke = true;
        this.challenged++;
      }
      inbound.write(chunk);
    });
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** Decimal form of a node id given as hex ("A1" → "161"), as frames carry it. */
export const nodeIdDecimal = (hex: string): string => BigInt(`0x${hex}`).toString();

/** Relays in front of every node of a test cluster, and the cuts between them. */
export class RelayNet {
  readonly #nodes = new Map<string, { hb: FrameRelay; fabric: FrameRelay; hbPort: number; fabricPort: number }>();

  /** Ports and relays for a node (kept across its restarts). */
  async node(id: string): Promise<{ hbPort: number; fabricPort: number; hbAccess: string; fabricAccess: string }> {
    let n = this.#nodes.get(id);
    if (n === undefined) {
      const hbPort = await freePort();
      const fabricPort = await freePort();
      n = { hbPort, fabricPort, hb: await FrameRelay.open(hbPort), fabric: await FrameRelay.open(fabricPort) };
      this.#nodes.set(id, n);
    }
    return { hbPort: n.hbPort, fabricPort: n.fabricPort, hbAccess: n.hb.address, fabricAccess: n.fabric.address };
  }

  /**
   * New ports for a node whose own ports were taken (a port found free may be taken by anything
   * on the machine before the node binds it, or while the node is down between a kill and its
   * restart); its relays, and so the addresses the other nodes know it by, stay.
   */
  async repick(id: string): Promise<void> {
    const n = this.#nodes.get(id);
    if (n === undefined) return;
    n.hbPort = await freePort();
    n.fabricPort = await freePort();
    n.hb.retarget(n.hbPort);
    n.fabric.retarget(n.fabricPort);
  }

  /** No frame from `a` reaches `b` and none from `b` reaches `a`. */
  cut(a: string, b: string): void {
    for (const [to, from] of [[a, b], [b, a]] as const) {
      const n = this.#nodes.get(to);
      n?.hb.blocked.add(nodeIdDecimal(from));
      n?.fabric.blocked.add(nodeIdDecimal(from));
    }
  }

  /** Splits the nodes into sides that do not hear each other. */
  split(...sides: string[][]): void {
    for (const [i, side] of sides.entries()) {
      for (const other of sides.slice(i + 1)) for (const a of side) for (const b of other) this.cut(a, b);
    }
  }

  heal(): void {
    for (const n of this.#nodes.values()) {
      n.hb.blocked.clear();
      n.fabric.blocked.clear();
    }
  }

  /** Frames dropped by cuts so far. */
  dropped(): number {
    let d = 0;
    for (const n of this.#nodes.values()) d += n.hb.dropped + n.fabric.dropped;
    return d;
  }

  /** Connections on which a node sent its challenge (with a cluster secret; 0 without). */
  challenged(): number {
    let c = 0;
    for (const n of this.#nodes.values()) c += n.hb.challenged + n.fabric.challenged;
    return c;
  }

  async close(): Promise<void> {
    for (const n of this.#nodes.values()) await Promise.all([n.hb.close(), n.fabric.close()]);
  }
}
