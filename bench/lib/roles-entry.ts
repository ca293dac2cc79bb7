/**
 * A bench child running several opsbus roles in one process (`opsbus worker` runs one): with JSONL
 * stores the bridge and the graph runs must share the process that owns the data dir, as under
 * `npm start`. Usage: node dist/bench/lib/roles-entry.js incident-bridge graph-runs gateway
 */
import { runUntilSignal } from "../../src/main.js";
import { ROLES, type Role } from "../../src/app/roles.js";

const roles = process.argv.slice(2);
const unknown = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
if (roles.length === 0 || unknown.length) {
  console.error(`roles-entry: name roles among ${ROLES.join(", ")}${unknown.length ? `; unknown: ${unknown.join(", ")}` : ""}`);
  process.exit(2);
}
runUntilSignal(roles as Role[]).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
