/** The last lines a process wrote, kept in memory for status pages and start errors. Long lines are cut. */
export class LogTail {
  private readonly lines: string[] = [];

  constructor(
    private readonly maxLines = 200,
    private readonly maxLineLength = 2000,
  ) {}

  push(line: string): void {
    this.lines.push(line.length > this.maxLineLength ? `${line.slice(0, this.maxLineLength)}…` : line);
    if (this.lines.length > this.maxLines) this.lines.splice(0, this.lines.length - this.maxLines);
  }

  last(n = this.maxLines): string[] {
    return this.lines.slice(-n);
  }
}
