/** Samples a process's resident memory from /proc/<pid>/status (Linux). */
import { readFileSync } from "node:fs";

export interface MemoryReading {
  /** Highest VmRSS seen by sampling. */
  peakSampledKb: number;
  /** The kernel's own high-water mark (VmHWM) at the last successful read. */
  hwmKb: number;
  samples: number;
  /** VmRSS at the latest sample. */
  lastKb: number;
}

function readStatus(pid: number): { rssKb: number; hwmKb: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
    return { rssKb: kb("VmRSS"), hwmKb: kb("VmHWM") };
  } catch {
    return undefined; // gone
  }
}

export interface RssSampler {
  read(): MemoryReading;
  /** One last reading (VmHWM included) and stop sampling. */
  stop(): MemoryReading;
}

export function sampleRss(pid: number, intervalMs = 100): RssSampler {
  const reading: MemoryReading = { peakSampledKb: 0, hwmKb: 0, samples: 0, lastKb: 0 };
  const tick = () => {
    const s = readStatus(pid);
    if (!s) return;
    reading.samples += 1;
    reading.lastKb = s.rssKb;
    reading.peakSampledKb = Math.max(reading.peakSampledKb, s.rssKb);
    reading.hwmKb = Math.max(reading.hwmKb, s.hwmKb);
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return {
    read: () => ({ ...reading }),
    stop() {
      tick();
      clearInterval(timer);
      return { ...reading };
    },
  };
}
