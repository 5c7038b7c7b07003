/**
 * The simulator's clock. Meetings and subscriptions live on it. It runs at `scale` times real
 * time (60 makes a 60-minute class end in a minute) and can be moved forward by hand.
 */
export class SimClock {
  private baseSim: number;
  private baseReal: number;
  private scaleFactor: number;

  constructor(
    private readonly realNow: () => number = Date.now,
    start?: Date,
    scale = 1,
  ) {
    this.baseReal = realNow();
    this.baseSim = start?.getTime() ?? this.baseReal;
    this.scaleFactor = scale;
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
  }

  private rebase(): void {
    this.baseSim = this.nowMs();
    this.baseReal = this.realNow();
  }
}
