/**
 * The simulator's clock. Meetings live on it: it runs at `scale` times real time (60 makes a
 * 60-minute class end in a minute) and can be moved forward by hand. Protocol time (subscription
 * expiry, lifecycle warnings, delivery) runs at real speed from the same start, as Graph's own
 * clock does for a client whose meetings merely end sooner; moving the clock by hand moves both.
 */
export class SimClock {
  private baseSim: number;
  private baseReal: number;
  private baseProtocol: number;
  private baseProtocolReal: number;
  private scaleFactor: number;

  constructor(
    private readonly realNow: () => number = Date.now,
    start?: Date,
    scale = 1,
  ) {
    this.baseReal = realNow();
    this.baseSim = start?.getTime() ?? this.baseReal;
    this.baseProtocol = this.baseSim;
    this.baseProtocolReal = this.baseReal;
    this.scaleFactor = scale;
  }

  /** Protocol time: the start time plus real elapsed time (and any manual advance). */
  protocolNowMs(): number {
    return this.baseProtocol + (this.realNow() - this.baseProtocolReal);
  }

  protocolNow(): Date {
    return new Date(this.protocolNowMs());
  }

  nowMs(): number {
    return this.baseSim + (this.realNow() - this.baseReal) * this.scaleFactor;
  }

  now(): Date {
    return new Date(this.nowMs());
  }

  get scale(): number {
    return this.scaleFactor;
  }

  setScale(scale: number): void {
    if (!(scale > 0) || scale > 100_000) throw new RangeError('scale must be > 0 and <= 100000');
    this.rebase();
    this.scaleFactor = scale;
  }

  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError('advance must be >= 0');
    this.rebase();
    this.baseSim += ms;
    this.baseProtocol = this.protocolNowMs() + ms;
    this.baseProtocolReal = this.realNow();
  }

  private rebase(): void {
    this.baseSim = this.nowMs();
    this.baseReal = this.realNow();
  }
}
