/**
 * netdevice.ts: what goes on the wire, and the device through which a kernel puts it there.
 *
 * Layer: kernel networking, the bottom of it. Interface: a `Packet` is one TCP segment in its IP
 * datagram, reduced to the fields TCP reads (addresses, ports, 32-bit sequence and acknowledgement
 * numbers, flags, window, payload); a `NetDevice` is a host's network interface: `xmit` hands a
 * packet to the wire (sim/network.ts implements it; the wire copies the payload before `xmit`
 * returns, so the sender may reuse its buffer and the receiver never sees the sender's memory), and
 * `hostExists` is the routing table: whether a host of that name is in the world at all (the only
 * global fact a kernel may learn, so that connect can say EHOSTUNREACH). The wire hands arriving
 * packets to `Kernel.net_rx`, which trusts nothing in them (kernel/tcp_ipv4.ts checks every field).
 * An address is a host's name (the stand-in for an IPv4 address); there is one interface per host.
 * Counterpart: Linux's struct net_device, dev_queue_xmit and netif_rx; struct sk_buff's headers.
 */

/** A socket address: a host's name (or '*', INADDR_ANY, when binding) and a port, 1..65535. */
export interface SockAddr {
  readonly host: string;
  readonly port: number;
}

/** INADDR_ANY: bind to every address of this host (it has one). */
export const INADDR_ANY = '*';

// TCP header flags, with the bit values of struct tcphdr.
export const TH_FIN = 0x01;
export const TH_SYN = 0x02;
export const TH_RST = 0x04;
export const TH_PSH = 0x08;
export const TH_ACK = 0x10;
/** Every flag bit this model knows; a packet with others set is malformed. */
export const TH_MASK = 0x1f;

/** IPv4 and TCP headers without options: what each packet costs on a link beyond its payload. */
export const PACKET_HEADER_BYTES = 40;

export interface Packet {
  readonly src: string;
  readonly sport: number;
  readonly dst: string;
  readonly dport: number;
  /** Sequence number of the first payload byte (or of the SYN/FIN), modulo 2^32. */
  readonly seq: number;
  /** Next sequence number the sender expects (meaningful with TH_ACK), modulo 2^32. */
  readonly ack: number;
  readonly flags: number;
  /** Bytes the sender can still receive beyond `ack` (no 16-bit limit: as if window scaling). */
  readonly window: number;
  readonly payload: Uint8Array;
}

export interface NetDevice {
  /** This host's address (its name). */
  readonly address: string;
  /** Put a packet on the wire toward `pkt.dst`; the payload is copied before this returns. */
  xmit(pkt: Packet): void;
  /** The routing table: is there a host of this name in the world (up or down)? */
  hostExists(host: string): boolean;
}

/** An empty payload, shared: a zero-length array has nothing to change. */
export const NO_PAYLOAD: Uint8Array = new Uint8Array(0);

/** 'SYN,ACK' for traces. */
export function flagNames(flags: number): string {
  const out: string[] = [];
  if ((flags & TH_SYN) !== 0) out.push('SYN');
  if ((flags & TH_FIN) !== 0) out.push('FIN');
  if ((flags & TH_RST) !== 0) out.push('RST');
  if ((flags & TH_PSH) !== 0) out.push('PSH');
  if ((flags & TH_ACK) !== 0) out.push('ACK');
  return out.join(',');
}

/** How many sequence numbers a packet occupies: its payload, plus one each for SYN and FIN. */
export function seqSpace(pkt: Packet): number {
  return pkt.payload.length + (pkt.flags & TH_SYN ? 1 : 0) + (pkt.flags & TH_FIN ? 1 : 0);
}
