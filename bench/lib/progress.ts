/** Progress lines on stderr (`publishing 100000 alerts… 42%`), so stdout carries only the table. */

export interface Progress {
  update(done: number): void;
  finish(note?: string): void;
}

/** At most one line per 10 % step and per second; a TTY gets one line rewritten in place. */
export function progress(label: string, total: number): Progress {
  const tty = process.stderr.isTTY === true;
  let lastStep = -1;
  let lastAt = 0;
  const write = (text: string, final: boolean) => {
    if (tty) process.stderr.write(`\r\x1b[K${text}${final ? "\n" : ""}`);
    else process.stderr.write(`${text}\n`);
  };
  return {
    update(done) {
      const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
      const step = Math.floor(pct / 10);
      const now = Date.now();
      if (step === lastStep || (now - lastAt < 1000 && step < 10 && !tty)) return;
      lastStep = step;
      lastAt = now;
      write(`${label}… ${pct}%`, false);
    },
    finish(note) {
      write(`${label}… done${note ? ` (${note})` : ""}`, true);
    },
  };
}

/** A plain status line on stderr. */
export function say(text: string): void {
  process.stderr.write(`${text}\n`);
}
