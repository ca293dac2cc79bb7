/** Per-thread facts of a process, from /proc (Linux). */
import { readdirSync, readFileSync } from "node:fs";

/** The nice value of each thread of a process: field 19 of /proc/<pid>/task/<tid>/stat, counted after the command name's closing parenthesis. */
export function threadNices(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
  });
}
