/**
 * loopback.ts: the device a host talks to itself through.
 *
 * Layer: kernel networking (Linux drivers/net/loopback.c). Interface: `xmit(pkt)` queues a copy of
 * a packet (the sender's buffer is never shared) for delivery back into this kernel, in order, at
 * the current tick but after the sending code has run to completion (one scheduler event for all
 * the packets queued meanwhile). It exists with or without a network device, and no network fault
 * touches it: a host can always reach its own name.
 */
import type { Packet } from './netdevice.ts';
import { Slab } from './skbuff.ts';
import type { Timers } from './timer.ts';

export class Loopback {
  private queue: Packet[] = [];
  private armed = false;
  private readonly slab = new Slab();
  packets = 0;

  constructor(
    private readonly timers: Timers,
    private readonly rx: (pkt: Packet) => void,
  ) {}

  xmit(pkt: Packet): void {
    this.queue.push({ ...pkt, payload: this.slab.copy(pkt.payload) });
    this.packets++;
    if (this.armed) return;
    this.armed = true;
    this.timers.at(this.timers.now(), 'loopback', this.deliver);
  }

  private readonly deliver = (): void => {
    this.armed = false;
    const q = this.queue;
    this.queue = [];
    for (const pkt of q) this.rx(pkt);
  };
}
