import { TemplateError, type Expr, type Node, type Pipeline } from './parse';
import { FUNCTIONS, isEmpty, type FunctionContext } from './functions';

/**
 * Executes parsed templates with Go's text/template semantics for the subset parse.ts accepts. Stricter
 * than Helm where Helm is silently lenient: printing a missing value is an error (Helm prints nothing),
 * so a renamed value cannot leave an empty field behind unnoticed.
 */

export type Value = unknown;

class Scope {
  private readonly vars = new Map<string, Value>();
  constructor(private readonly parent?: Scope) {}
  get(name: string, where: string): Value {
    if (this.vars.has(name)) return this.vars.get(name);
    if (this.parent) return this.parent.get(name, where);
    throw new TemplateError(`${where}: undefined variable ${name}`);
  }
  declare(name: string, value: Value) {
    this.vars.set(name, value);
  }
  assign(name: string, value: Value, where: string) {
    if (this.vars.has(name)) this.vars.set(name, value);
    else if (this.parent) this.parent.assign(name, value, where);
    else throw new TemplateError(`${where}: assignment to undeclared variable ${name}`);
  }
}

export interface Executor {
  /** Renders a `define`d template with the given dot (what `include` does). */
  include(name: string, dot: Value): string;
  /** Renders top-level nodes of a file. */
  render(nodes: Node[], dot: Value, file: string): string;
}

export function truthy(v: Value): boolean {
  return !isEmpty(v);
}

function printable(v: Value, where: string): string {
  if (v === null || v === undefined) throw new TemplateError(`${where}: prints a missing value (Helm would print nothing: check the value's name)`);
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new TemplateError(`${where}: prints a ${Array.isArray(v) ? 'list' : 'map'} (Go would print map[...]; use toYaml)`);
}

export function createExecutor(defines: Map<string, Node[]>, functionContext: Omit<FunctionContext, 'include'>): Executor {
  const fctx: FunctionContext = { ...functionContext, include: (name, dot) => include(name, dot) };

  const field = (base: Value, path: string[], where: string): Value => {
    let v = base;
    for (const [idx, key] of path.entries()) {
      if (v === null || v === undefined) throw new TemplateError(`${where}: nil pointer evaluating .${path.slice(0, idx + 1).join('.')}`);
      if (typeof v !== 'object') throw new TemplateError(`${where}: can't evaluate field ${key} in a ${typeof v}`);
      // As `helm lint --strict` (missingkey=error): a key the values do not have is an error, not a
      // silent false, so `.Values.web.hpa.enable` for `.enabled` cannot render quietly.
      if (!Object.prototype.hasOwnProperty.call(v, key)) throw new TemplateError(`${where}: map has no entry for key "${key}" (.${path.slice(0, idx + 1).join('.')})`);
      v = (v as Record<string, Value>)[key];
    }
    return v;
  };

  const evalExpr = (e: Expr, dot: Value, root: Value, scope: Scope, where: string): Value => {
    switch (e.kind) {
      case 'dot':
        return dot;
      case 'root':
        return root;
      case 'var':
        return scope.get(e.name, where);
      case 'field':
        return field(evalExpr(e.base, dot, root, scope, where), e.path, where);
      case 'string':
      case 'number':
      case 'bool':
        return e.value;
      case 'nil':
        return null;
      case 'pipeline':
        return evalPipeline(e.pipeline, dot, root, scope, where);
      case 'ident':
        return call(e.name, [], where);
    }
  };

  const call = (name: string, args: Value[], where: string): Value => {
    const fn = Object.hasOwn(FUNCTIONS, name) ? FUNCTIONS[name] : undefined;
    if (!fn) throw new TemplateError(`${where}: function "${name}" is not supported by this renderer`);
    try {
      return fn(fctx, ...args);
    } catch (e) {
      if (e instanceof TemplateError) throw e;
      throw new TemplateError(`${where}: ${name}: ${(e as Error).message}`);
    }
  };

  const evalPipeline = (p: Pipeline, dot: Value, root: Value, scope: Scope, where: string): Value => {
    let piped: Value;
    let havePiped = false;
    for (const cmd of p.commands) {
      const [head, ...rest] = cmd.args;
      const extra = havePiped ? [piped] : [];
      if (head.kind === 'ident') {
        piped = call(head.name, [...rest.map((a) => evalExpr(a, dot, root, scope, where)), ...extra], where);
      } else {
        const v = evalExpr(head, dot, root, scope, where);
        if (typeof v === 'function') piped = (v as (...a: Value[]) => Value)(...rest.map((a) => evalExpr(a, dot, root, scope, where)), ...extra);
        else if (rest.length || havePiped) throw new TemplateError(`${where}: a value is given arguments`);
        else piped = v;
      }
      havePiped = true;
    }
    if (p.decl) {
      if (p.decl.names.length !== 1) throw new TemplateError(`${where}: only range declares two variables`);
      if (p.decl.op === ':=') scope.declare(p.decl.names[0], piped);
      else scope.assign(p.decl.names[0], piped, where);
    }
    return piped;
  };

  const run = (nodes: Node[], dot: Value, root: Value, scope: Scope, file: string, out: string[]) => {
    for (const n of nodes) {
      switch (n.kind) {
        case 'text':
          out.push(n.text);
          break;
        case 'action': {
          const where = `${file}:${n.pipeline.line}`;
          const v = evalPipeline(n.pipeline, dot, root, scope, where);
          if (!n.pipeline.decl) out.push(printable(v, where));
          break;
        }
        case 'if': {
          const branch = n.branches.find((b) => truthy(evalPipeline(b.cond, dot, root, scope, `${file}:${b.cond.line}`)));
          const body = branch ? branch.body : n.otherwise;
          if (body) run(body, dot, root, new Scope(scope), file, out);
          break;
        }
        case 'with': {
          const v = evalPipeline({ ...n.pipeline, decl: undefined }, dot, root, scope, `${file}:${n.pipeline.line}`);
          const inner = new Scope(scope);
          if (truthy(v)) {
            if (n.pipeline.decl) inner.declare(n.pipeline.decl.names[0], v);
            run(n.body, v, root, inner, file, out);
          } else if (n.otherwise) run(n.otherwise, dot, root, inner, file, out);
          break;
        }
        case 'range': {
          const where = `${file}:${n.pipeline.line}`;
          const v = evalPipeline({ ...n.pipeline, decl: undefined }, dot, root, scope, where);
          const names = n.pipeline.decl?.names ?? [];
          if (names.length > 2) throw new TemplateError(`${where}: range declares at most two variables`);
          let entries: [Value, Value][];
          if (v === null || v === undefined) entries = [];
          else if (Array.isArray(v)) entries = v.map((x, i) => [i, x]);
          // Go ranges over a map in sorted key order.
          else if (typeof v === 'object') entries = Object.keys(v).sort().map((k) => [k, (v as Record<string, Value>)[k]]);
          else throw new TemplateError(`${where}: range over a ${typeof v}`);
          if (entries.length === 0) {
            if (n.otherwise) run(n.otherwise, dot, root, new Scope(scope), file, out);
            break;
          }
          for (const [k, x] of entries) {
            const inner = new Scope(scope);
            if (names.length === 1) inner.declare(names[0], x);
            if (names.length === 2) {
              inner.declare(names[0], k);
              inner.declare(names[1], x);
            }
            run(n.body, x, root, inner, file, out);
          }
          break;
        }
      }
    }
  };

  const include = (name: string, dot: Value): string => {
    const nodes = defines.get(name);
    if (!nodes) throw new TemplateError(`include: no template named "${name}"`);
    const out: string[] = [];
    run(nodes, dot, dot, new Scope(), `define "${name}"`, out);
    return out.join('');
  };

  return {
    include,
    render(nodes, dot, file) {
      const out: string[] = [];
      run(nodes, dot, dot, new Scope(), file, out);
      return out.join('');
    },
  };
}
