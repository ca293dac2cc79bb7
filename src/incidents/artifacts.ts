/**
 * Incident artifacts on disk: `<dir>/<incident_id>/<name>`, json/md/txt only, ≤ 2 MB, written
 * atomically. The store keeps only the metadata (ArtifactRecord); the file is written first.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { invalid, notFound, OpsError } from "../errors.js";
import {
  ARTIFACT_FORMATS,
  MAX_ARTIFACT_BYTES,
  type ArtifactFormat,
  type ArtifactRecord,
  type IncidentEvent,
  type IncidentStore,
} from "./store.js";
import { writeFileAtomic } from "../util/fs-atomic.js";

export const INCIDENT_ID_RE = /^inc_\d{8}_\d{4}_[0-9a-f]+$/;
export const MAX_ARTIFACT_NAME_CHARS = 128;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function assertIncidentId(id: string): void {
  if (!INCIDENT_ID_RE.test(id)) throw invalid(`incident_id must look like inc_YYYYMMDD_HHMM_<hex>, got "${id.slice(0, 80)}"`);
}

/** The format of a valid artifact name; refuses anything that could leave the incident's directory. */
export function artifactFormatOf(name: string): ArtifactFormat {
  if (name.length === 0 || name.length > MAX_ARTIFACT_NAME_CHARS) {
    throw invalid(`artifact name must be 1-${MAX_ARTIFACT_NAME_CHARS} characters`);
  }
  if (name.includes("/") || name.includes("\\") || name.includes("..") || !NAME_RE.test(name)) {
    throw invalid(`artifact name "${name}" is not allowed: letters, digits, '.', '_', '-' only, no path separators or '..'`);
  }
  const ext = name.slice(name.lastIndexOf(".") + 1).toLowerCase();
  const format = ARTIFACT_FORMATS.find((f) => f === ext);
  if (!name.includes(".") || !format) {
    throw invalid(`artifact type not allowed: "${name}"; allowed types: ${ARTIFACT_FORMATS.join(", ")}`, {
      allowed: [...ARTIFACT_FORMATS],
    });
  }
  return format;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function checkContent(format: ArtifactFormat, bytes: Buffer): void {
  if (bytes.length > MAX_ARTIFACT_BYTES) {
    throw new OpsError("payload_too_large", `artifact is ${bytes.length} bytes; the limit is ${MAX_ARTIFACT_BYTES} (2 MB)`, {
      bytes: bytes.length,
      max_bytes: MAX_ARTIFACT_BYTES,
    });
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw invalid(`a ${format} artifact must be UTF-8 text`);
  }
  if (format === "json") {
    try {
      JSON.parse(text);
    } catch (err) {
      throw invalid(`json artifact does not parse: ${(err as Error).message}`);
    }
  }
}

export interface WriteArtifactInput {
  dir: string;
  incident_id: string;
  name: string;
  content: string | Buffer;
  created_by: string;
  run_id?: string;
  now: Date;
}

/** Validates and writes the file; returns the metadata for `IncidentStore.putArtifact`. */
export async function writeArtifact(input: WriteArtifactInput): Promise<ArtifactRecord> {
  assertIncidentId(input.incident_id);
  const format = artifactFormatOf(input.name);
  const bytes = typeof input.content === "string" ? Buffer.from(input.content, "utf8") : input.content;
  checkContent(format, bytes);
  await writeFileAtomic(join(input.dir, input.incident_id, input.name), bytes);
  return {
    incident_id: input.incident_id,
    name: input.name,
    format,
    path: `${input.incident_id}/${input.name}`,
    bytes: bytes.length,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    created_at: input.now.toISOString(),
    created_by: input.created_by,
    ...(input.run_id ? { run_id: input.run_id } : {}),
  };
}

export async function readArtifact(input: { dir: string; incident_id: string; name: string }): Promise<{
  content: string;
  format: ArtifactFormat;
  bytes: number;
  sha256: string;
}> {
  assertIncidentId(input.incident_id);
  const format = artifactFormatOf(input.name);
  let buf: Buffer;
  try {
    buf = await readFile(join(input.dir, input.incident_id, input.name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw notFound(`artifact ${input.incident_id}/${input.name} not found`);
    throw err;
  }
  return { content: buf.toString("utf8"), format, bytes: buf.length, sha256: createHash("sha256").update(buf).digest("hex") };
}

/**
 * The whole attach: file, metadata, and an `artifact` event on the timeline (dedupe key by name and
 * content, so a retried attach of the same bytes adds no second event). The incident must exist.
 */
export async function attachArtifact(
  store: IncidentStore,
  input: WriteArtifactInput,
): Promise<{ artifact: ArtifactRecord; event: IncidentEvent; replayed: boolean }> {
  assertIncidentId(input.incident_id);
  if (!(await store.get(input.incident_id))) throw notFound(`incident ${input.incident_id} not found`);
  const artifact = await store.putArtifact(await writeArtifact(input));
  const { event, replayed } = await store.appendEvent(
    input.incident_id,
    {
      type: "artifact",
      message: `Artifact ${artifact.name} attached (${artifact.format}, ${artifact.bytes} bytes)`,
      author: input.created_by,
      meta: { name: artifact.name, format: artifact.format, path: artifact.path, bytes: artifact.bytes, sha256: artifact.sha256, ...(input.run_id ? { run_id: input.run_id } : {}) },
      dedupe_key: `artifact:${input.incident_id}:${artifact.name}:${artifact.sha256}`,
    },
    input.now,
  );
  return { artifact, event, replayed };
}
