// Collects log lines and hands them to their destination together, once per turn of the event
// loop or once every few milliseconds: a busy daemon writes a line or two per connection, and
// one write per batch costs far less than one stream write (and one syscall) per line. Order is
// kept; nothing is lost on flush(), which the owner calls before it switches or ends its
// destination.

export class LineBatch {
  private text = '';
  private lines = 0;
  private bytes = 0;
  private timer: NodeJS.Immediate | NodeJS.Timeout | null = null;

  /**
   * `sink` receives the batched text (never empty) and the number of lines in it; `delayMs` 0
   * hands it over on the next turn of the loop, more gathers the lines of that many ms.
   */
  constructor(
    private readonly sink: (text: string, lines: number) => void,
    private readonly delayMs = 0,
  ) {}

  /** Bytes waiting (UTF-8). */
  get pendingBytes(): number {
    return this.bytes;
  }

  /** Queues `line` (with its newline) of `bytes` UTF-8 bytes, for the next hand-over. */
  add(line: string, bytes: number): void {
    this.text += line;
    this.lines++;
    this.bytes += bytes;
    this.timer ??= this.delayMs > 0 ? setTimeout(() => this.flush(), this.delayMs) : setImmediate(() => this.flush());
  }

  /** Hands what is waiting to the sink now. */
  flush(): void {
    if (this.timer !== null) this.cancelTimer();
    if (this.lines === 0) return;
    const { text, lines } = this;
    this.text = '';
    this.lines = 0;
    this.bytes = 0;
    this.sink(text, lines);
  }

  /** Forgets what is waiting; returns how many lines that was. */
  discard(): number {
    if (this.timer !== null) this.cancelTimer();
    const n = this.lines;
    this.text = '';
    this.lines = 0;
    this.bytes = 0;
    return n;
  }

  private cancelTimer(): void {
    if (this.delayMs > 0) clearTimeout(this.timer as NodeJS.Timeout);
    else clearImmediate(this.timer as NodeJS.Immediate);
    this.timer = null;
  }
}
