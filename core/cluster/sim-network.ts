/**
 * An in-process simulated network on a FakeClock with seeded randomness. It delays (uniformly
 * between minDelayMs and maxDelayMs, so frames reorder), drops, duplicates and partitions
 * frames. Every frame goes through the real codec, so what passes here is serializable. A frame
 * to an address nobody listens on is refused at once (as a connection to a closed port), and
 * the sender is told it never left.
 * Addresses are "host:port"; partitions are between hosts.
 */
import type { Clock } from '../plugin-api/index.ts';
import { decodeFrame, encodeFrame } from './frame-codec.ts';
import type { Frame } from './messages.ts';
import { seededRandom } from './clock.ts';
import { parseAddress, type Channel, type Transport, type TransportFactory } from './transport.ts';

export interface SimFaults {
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  /** Probability that a frame is lost. */
  readonly dropRate: number;
  /** Probability that a frame is delivered twice. */
  readonly duplicateRate: number;
}

export const NO_FAULTS: SimFaults = { minDelayMs: 1, maxDelayMs: 3, dropRate: 0, duplicateRate: 0 };

export class SimNetwork {
  readonly clock: Clock;
  readonly random: () => number;
  faults: SimFaults;
  /** Drops the frames it answers true for (a fault aimed at some messages: host names, the frame). */
  dropIf: ((from: string, to: string, frame: Frame) => boolean) | undefined;
  readonly stats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, blocked: 0 };
  #endpoints = new Map<string, (f: Frame) => void>();
  #group = new Map<string, number>();
  /** Directed blocks "a>b" (asymmetric faults). */
  #oneWay = new Set<string>();
  #nextPort = 40000;

  constructor(clock: Clock, seed: number, faults: SimFaults = NO_FAULTS) {
    this.clock = clock;
    this.random = seededRandom(seed);
    this.faults = faults;
  }

  /** The transport factory for a node on `host`. */
  factory(host: string): TransportFactory {
    return (channel) => this.#transport(host, channel);
  }

  /** Splits hosts into groups that can't reach each other; unlisted hosts form one more group. */
  partition(groups: readonly (readonly string[])[]): void {
    this.#group.clear();
    groups.forEach((g, i) => g.forEach((h) => this.#group.set(h, i + 1)));
  }

  /** Blocks frames from host a to host b only. */
  blockOneWay(a: string, b: string): void {
    this.#oneWay.add(`${a}>${b}`);
  }

  heal(): void {
    this.#group.clear();
    this.#oneWay.clear();
  }

  canReach(a: string, b: string): boolean {
    return (this.#group.get(a) ?? 0) === (this.#group.get(b) ?? 0) && !this.#oneWay.has(`${a}>${b}`);
  }

  #transport(host: string, channel: Channel): Transport {
    const mine: string[] = [];
    const stats = { framesReceived: 0, framesDropped: 0, framesUnauthenticated: 0, framesUnsent: 0, connectionsRefused: 0, connectionsClosed: 0, bytesBuffered: 0 };
    let closed = false;
    return {
      listen: (address, onFrame) => {
        const a = parseAddress(address);
        const port = a === undefined || a.port === 0 ? this.#nextPort++ : a.port;
        const bound = `${host}:${port}`;
        if (this.#endpoints.has(bound)) return Promise.reject(new Error(`address in use: ${bound}`));
        this.#endpoints.set(bound, onFrame);
        mine.push(bound);
        return Promise.resolve(bound);
      },
      send: (to, frame, written) => {
        if (closed) return written?.(false);
        this.stats.sent++;
        const target = parseAddress(to)?.host ?? '';
        // nobody listens there (the node is down): the connection is refused, the frame never leaves
        const refused = !this.#endpoints.has(to);
        written?.(!refused);
        // a partition or a loss drops frames in flight: the peer may or may not have had them (the sender cannot tell)
        if (!this.canReach(host, target)) {
          this.stats.blocked++;
          return;
        }
        if (this.random() < this.faults.dropRate || this.dropIf?.(host, target, frame) === true) {
          this.stats.dropped++;
          return;
        }
        const bytes = encodeFrame(frame);
        const copies = this.random() < this.faults.duplicateRate ? 2 : 1;
        if (copies === 2) this.stats.duplicated++;
        for (let i = 0; i < copies; i++) {
          const { minDelayMs, maxDelayMs } = this.faults;
          const delay = minDelayMs + this.random() * (maxDelayMs - minDelayMs);
          this.clock.setTimeout(() => {
            // partitions that start while a frame is in flight also cut it
            if (!this.canReach(host, target)) {
              this.stats.blocked++;
              return;
            }
            const h = this.#endpoints.get(to);
            if (h === undefined || refused) return;
            this.stats.delivered++;
            const r = decodeFrame(bytes, channel);
            if (r.ok) {
              stats.framesReceived++;
              h(r.frame);
            } else {
              stats.framesDropped++;
            }
          }, delay);
        }
      },
      stats: () => ({ ...stats }),
      close: () => {
        closed = true;
        for (const a of mine) this.#endpoints.delete(a);
        return Promise.resolve();
      },
    };
  }
}
