/**
 * The import graph of `src/`, read with the TypeScript parser (no type checking, so it is quick):
 * every relative `import`/`export … from`/`import()` with the line it is on, resolved to a file.
 * The dependency-direction test judges these edges; package imports are not edges.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

export interface ImportEdge {
  /** Importing file, relative to the repo root with `/` separators, e.g. `src/roles.ts`. */
  from: string;
  /** 1-based line of the import. */
  line: number;
  /** Imported file, relative to the repo root, e.g. `src/stores/factory.ts`. */
  to: string;
  /** `import type …` / `export type … from`: erased at run time, but still a dependency. */
  typeOnly: boolean;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

/** `./x.js` → `x.ts`, `./dir/index.js` as written: the project always spells the `.js` of the file. */
function resolveSpecifier(root: string, fromFile: string, specifier: string): string {
  const target = resolve(dirname(fromFile), specifier).replace(/\.js$/, ".ts");
  return relative(root, target).split("\\").join("/");
}

function edgesOf(root: string, file: string): ImportEdge[] {
  const text = readFileSync(file, "utf8");
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const from = relative(root, file).split("\\").join("/");
  const edges: ImportEdge[] = [];
  const add = (spec: ts.Expression | undefined, node: ts.Node, typeOnly: boolean) => {
    if (!spec || !ts.isStringLiteralLike(spec) || !spec.text.startsWith(".")) return;
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    edges.push({ from, line, to: resolveSpecifier(root, file, spec.text), typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
      const allTypes = !!clause && (clause.isTypeOnly || (!clause.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, node, allTypes);
    } else if (ts.isExportDeclaration(node)) {
      add(node.moduleSpecifier, node, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0], node, false);
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      if (ts.isLiteralTypeNode(arg)) add(arg.literal as ts.Expression, node, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return edges;
}

/** Every relative import of every `.ts` file under `<root>/<dir>`. */
export function importGraph(root: string, dir = "src"): ImportEdge[] {
  return tsFiles(join(root, dir))
    .sort()
    .flatMap((file) => edgesOf(root, file));
}

export interface ImportCycle {
  /** Every file of the strongly connected component, sorted: the cycle's identity. */
  members: string[];
  /** The shortest way round from the first member back to it: `[a, b, …, a]`. */
  path: string[];
}

/**
 * One cycle per strongly connected component of more than one file, or a file importing itself.
 * The path starts at `startOf(members)` (default the first member): a caller that knows which
 * file is new in a cycle starts there, so the path shows the import that closed it.
 */
export function importCycles(edges: readonly ImportEdge[], startOf = (members: string[]) => members[0]!): ImportCycle[] {
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const nodes = [...new Set(edges.flatMap((e) => [e.from, e.to]))].sort();
  // Tarjan's algorithm, iterative so a deep chain cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  for (const start of nodes) {
    if (index.has(start)) continue;
    const work: Array<{ node: string; i: number }> = [{ node: start, i: 0 }];
    index.set(start, counter);
    low.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length) {
      const frame = work[work.length - 1]!;
      const succ = next.get(frame.node) ?? [];
      if (frame.i < succ.length) {
        const to = succ[frame.i++]!;
        if (!index.has(to)) {
          index.set(to, counter);
          low.set(to, counter++);
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, i: 0 });
        } else if (onStack.has(to)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(to)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        const selfLoop = (next.get(frame.node) ?? []).includes(frame.node);
        if (component.length > 1 || selfLoop) components.push(component.sort());
      }
    }
  }
  return components.map((members) => ({ members, path: shortestCycle(startOf(members), new Set(members), next) }));
}

/** Breadth-first from `start` inside its component, back to `start`. */
function shortestCycle(start: string, within: Set<string>, next: Map<string, string[]>): string[] {
  const cameFrom = new Map<string, string>();
  const seen = new Set([start]);
  const queue = [start];
  while (queue.length) {
    const node = queue.shift()!;
    for (const to of next.get(node) ?? []) {
      if (to === start) {
        const path = [node];
        while (path[0] !== start) path.unshift(cameFrom.get(path[0]!)!);
        return [...path, start];
      }
      if (!within.has(to) || seen.has(to)) continue;
      seen.add(to);
      cameFrom.set(to, node);
      queue.push(to);
    }
  }
  return [start, start];
}
