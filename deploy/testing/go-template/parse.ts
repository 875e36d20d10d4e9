/**
 * A parser for the subset of Go's text/template that charts/enclave uses. Anything outside the subset
 * (an unknown action, a construct this file does not know) is a parse error naming the file and line,
 * so the chart cannot quietly grow a template this renderer would get wrong.
 */

export type Expr =
  | { kind: 'dot' }
  | { kind: 'root' } // `$`
  | { kind: 'var'; name: string } // `$x`
  | { kind: 'field'; base: Expr; path: string[] } // `.a.b`, `$x.a`, `(expr).a`
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'nil' }
  | { kind: 'ident'; name: string } // a function name
  | { kind: 'pipeline'; pipeline: Pipeline }; // `( ... )`

export interface Command {
  args: Expr[];
}
export interface Pipeline {
  decl?: { names: string[]; op: ':=' | '=' };
  commands: Command[];
  line: number;
}

export type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipeline: Pipeline }
  | { kind: 'if'; branches: { cond: Pipeline; body: Node[] }[]; otherwise?: Node[] }
  | { kind: 'range'; pipeline: Pipeline; body: Node[]; otherwise?: Node[] }
  | { kind: 'with'; pipeline: Pipeline; body: Node[]; otherwise?: Node[] };

export interface Parsed {
  nodes: Node[];
  defines: Map<string, Node[]>;
}

export class TemplateError extends Error {}

interface RawAction {
  body: string;
  line: number;
}
type Piece = { kind: 'text'; text: string } | { kind: 'action'; action: RawAction };

/** Splits text and actions, applying `{{-` / `-}}` trimming and dropping comments. */
function lex(source: string, file: string): Piece[] {
  const pieces: Piece[] = [];
  let pos = 0;
  let trimNext = false;
  const lineAt = (i: number) => source.slice(0, i).split('\n').length;
  while (pos < source.length) {
    const open = source.indexOf('{{', pos);
    let text = open === -1 ? source.slice(pos) : source.slice(pos, open);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (open === -1) {
      if (text) pieces.push({ kind: 'text', text });
      break;
    }
    let start = open + 2;
    // `{{- ` trims before; the dash must be followed by a space (else it is a negative number).
    if (/^- /.test(source.slice(start, start + 2)) || source.slice(start, start + 2) === '-\n') {
      text = text.replace(/\s+$/, '');
      start += 1;
    }
    if (text) pieces.push({ kind: 'text', text });
    const close = findClose(source, start, file, lineAt(open));
    let body = source.slice(start, close);
    trimNext = false;
    if (/ -$/.test(body) || /\n-$/.test(body)) {
      body = body.slice(0, -1);
      trimNext = true;
    }
    const trimmed = body.trim();
    if (!(trimmed.startsWith('/*') && trimmed.endsWith('*/'))) pieces.push({ kind: 'action', action: { body: trimmed, line: lineAt(open) } });
    pos = close + 2;
  }
  return pieces;
}

/** The `}}` closing an action, skipping strings and raw strings that may contain braces. */
function findClose(source: string, from: number, file: string, line: number): number {
  let i = from;
  while (i < source.length) {
    const c = source[i];
    if (c === '"') {
      i++;
      while (i < source.length && source[i] !== '"') i += source[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    if (c === '`') {
      const end = source.indexOf('`', i + 1);
      if (end === -1) break;
      i = end + 1;
      continue;
    }
    if (source.startsWith('/*', i)) {
      const end = source.indexOf('*/', i + 2);
      if (end === -1) break;
      i = end + 2;
      continue;
    }
    if (source.startsWith('}}', i)) return i;
    i++;
  }
  throw new TemplateError(`${file}:${line}: unclosed action`);
}

type Token =
  | { t: 'field'; path: string[]; base: 'dot' | 'root' | 'var'; name?: string; afterParen?: boolean }
  | { t: 'string'; value: string }
  | { t: 'number'; value: number }
  | { t: 'ident'; name: string }
  | { t: 'punct'; value: '|' | '(' | ')' | ':=' | '=' | ',' };

function tokenize(body: string, where: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const fieldPath = (): string[] => {
    const path: string[] = [];
    while (body[i] === '.' && /[A-Za-z_]/.test(body[i + 1] ?? '')) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(body.slice(i + 1))!;
      path.push(m[0]);
      i += 1 + m[0].length;
    }
    return path;
  };
  while (i < body.length) {
    const c = body[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < body.length && body[j] !== '"') j += body[j] === '\\' ? 2 : 1;
      if (j >= body.length) throw new TemplateError(`${where}: unterminated string`);
      tokens.push({ t: 'string', value: JSON.parse(body.slice(i, j + 1)) as string });
      i = j + 1;
    } else if (c === '`') {
      const j = body.indexOf('`', i + 1);
      tokens.push({ t: 'string', value: body.slice(i + 1, j) });
      i = j + 1;
    } else if (c === '.') {
      const afterParen = body[i - 1] === ')';
      if (/[A-Za-z_]/.test(body[i + 1] ?? '')) tokens.push({ t: 'field', base: 'dot', path: fieldPath(), afterParen });
      else {
        tokens.push({ t: 'field', base: 'dot', path: [] });
        i++;
      }
    } else if (c === '$') {
      const m = /^\$[A-Za-z0-9_]*/.exec(body.slice(i))!;
      i += m[0].length;
      const path = fieldPath();
      tokens.push(m[0] === '$' ? { t: 'field', base: 'root', path } : { t: 'field', base: 'var', name: m[0], path });
    } else if (c === ':' && body[i + 1] === '=') {
      tokens.push({ t: 'punct', value: ':=' });
      i += 2;
    } else if ('|(),='.includes(c)) {
      tokens.push({ t: 'punct', value: c as '|' });
      i++;
    } else if (/[-0-9]/.test(c)) {
      const m = /^-?[0-9]+(\.[0-9]+)?/.exec(body.slice(i));
      if (!m) throw new TemplateError(`${where}: unexpected "${c}"`);
      tokens.push({ t: 'number', value: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(body.slice(i))!;
      tokens.push({ t: 'ident', name: m[0] });
      i += m[0].length;
    } else {
      throw new TemplateError(`${where}: unsupported character "${c}"`);
    }
  }
  return tokens;
}

/** Parses one action's pipeline: `[$a[, $b] :=] cmd arg... | cmd arg...`. */
export function parsePipeline(body: string, line: number, where: string): Pipeline {
  const tokens = tokenize(body, where);
  let i = 0;
  let decl: Pipeline['decl'];
  const declEnd = tokens.findIndex((t) => t.t === 'punct' && (t.value === ':=' || t.value === '='));
  if (declEnd > 0 && tokens.slice(0, declEnd).every((t) => (t.t === 'field' && t.base === 'var' && t.path.length === 0) || (t.t === 'punct' && t.value === ','))) {
    const names = tokens.slice(0, declEnd).filter((t): t is Extract<Token, { t: 'field' }> => t.t === 'field').map((t) => t.name!);
    decl = { names, op: (tokens[declEnd] as { value: ':=' | '=' }).value };
    i = declEnd + 1;
  }
  const parseCommands = (stopAtParen: boolean): Command[] => {
    const commands: Command[] = [{ args: [] }];
    while (i < tokens.length) {
      const tok = tokens[i];
      if (tok.t === 'punct' && tok.value === ')') {
        if (!stopAtParen) throw new TemplateError(`${where}: unexpected ")"`);
        break;
      }
      i++;
      if (tok.t === 'punct' && tok.value === '|') {
        commands.push({ args: [] });
        continue;
      }
      let expr: Expr;
      if (tok.t === 'punct' && tok.value === '(') {
        const inner = parseCommands(true);
        if (tokens[i]?.t !== 'punct' || (tokens[i] as { value: string }).value !== ')') throw new TemplateError(`${where}: missing ")"`);
        i++;
        expr = { kind: 'pipeline', pipeline: { commands: inner, line } };
        // `(expr).field`: a field token glued to the parenthesis.
        const next = tokens[i];
        if (next?.t === 'field' && next.afterParen) {
          expr = { kind: 'field', base: expr, path: next.path };
          i++;
        }
      } else if (tok.t === 'punct') throw new TemplateError(`${where}: unexpected "${tok.value}"`);
      else if (tok.t === 'string') expr = { kind: 'string', value: tok.value };
      else if (tok.t === 'number') expr = { kind: 'number', value: tok.value };
      else if (tok.t === 'ident') {
        if (tok.name === 'true' || tok.name === 'false') expr = { kind: 'bool', value: tok.name === 'true' };
        else if (tok.name === 'nil') expr = { kind: 'nil' };
        else expr = { kind: 'ident', name: tok.name };
      } else {
        const base: Expr = tok.base === 'dot' ? { kind: 'dot' } : tok.base === 'root' ? { kind: 'root' } : { kind: 'var', name: tok.name! };
        expr = tok.path.length ? { kind: 'field', base, path: tok.path } : base;
      }
      commands[commands.length - 1].args.push(expr);
    }
    if (commands.some((c) => c.args.length === 0)) throw new TemplateError(`${where}: empty command in pipeline`);
    return commands;
  };
  const commands = parseCommands(false);
  return { decl, commands, line };
}

const BLOCK_KEYWORDS = new Set(['if', 'range', 'with', 'define']);
const UNSUPPORTED = new Set(['template', 'block', 'break', 'continue']);

/** Parses a template file into nodes and the `define`d templates it declares. */
export function parseTemplate(source: string, file: string): Parsed {
  const pieces = lex(source, file);
  const defines = new Map<string, Node[]>();
  let i = 0;

  type Stop = 'end' | 'else';
  const parseList = (stops: boolean): { nodes: Node[]; stop?: { kind: Stop; rest: string; line: number } } => {
    const nodes: Node[] = [];
    while (i < pieces.length) {
      const p = pieces[i++];
      if (p.kind === 'text') {
        nodes.push({ kind: 'text', text: p.text });
        continue;
      }
      const { body, line } = p.action;
      const where = `${file}:${line}`;
      const word = /^[a-z]+/.exec(body)?.[0] ?? '';
      const rest = body.slice(word.length).trim();
      if (word === 'end' || word === 'else') {
        if (!stops) throw new TemplateError(`${where}: "${word}" without an open block`);
        return { nodes, stop: { kind: word, rest, line } };
      }
      if (UNSUPPORTED.has(word)) throw new TemplateError(`${where}: "${word}" is not supported by this renderer`);
      if (!BLOCK_KEYWORDS.has(word)) {
        nodes.push({ kind: 'action', pipeline: parsePipeline(body, line, where) });
        continue;
      }
      if (word === 'define') {
        const name = /^"([^"]+)"$/.exec(rest)?.[1];
        if (!name) throw new TemplateError(`${where}: define needs a quoted name`);
        const inner = parseList(true);
        if (inner.stop?.kind !== 'end') throw new TemplateError(`${where}: define "${name}" has no end`);
        defines.set(name, inner.nodes);
        continue;
      }
      const pipeline = parsePipeline(rest, line, where);
      const first = parseList(true);
      if (!first.stop) throw new TemplateError(`${where}: "${word}" has no end`);
      if (word === 'if') {
        const branches = [{ cond: pipeline, body: first.nodes }];
        let stop = first.stop;
        let otherwise: Node[] | undefined;
        while (stop.kind === 'else') {
          const elseWhere = `${file}:${stop.line}`;
          if (stop.rest.startsWith('if ')) {
            const cond = parsePipeline(stop.rest.slice(3), stop.line, elseWhere);
            const next = parseList(true);
            if (!next.stop) throw new TemplateError(`${elseWhere}: "else if" has no end`);
            branches.push({ cond, body: next.nodes });
            stop = next.stop;
          } else if (stop.rest === '') {
            const next = parseList(true);
            if (next.stop?.kind !== 'end') throw new TemplateError(`${elseWhere}: "else" has no end`);
            otherwise = next.nodes;
            stop = next.stop;
          } else throw new TemplateError(`${elseWhere}: "else ${stop.rest}" is not supported by this renderer`);
        }
        nodes.push({ kind: 'if', branches, otherwise });
      } else {
        let otherwise: Node[] | undefined;
        if (first.stop.kind === 'else') {
          if (first.stop.rest !== '') throw new TemplateError(`${file}:${first.stop.line}: "else ${first.stop.rest}" is not supported by this renderer`);
          const next = parseList(true);
          if (next.stop?.kind !== 'end') throw new TemplateError(`${where}: "${word}" has no end`);
          otherwise = next.nodes;
        }
        nodes.push({ kind: word as 'range' | 'with', pipeline, body: first.nodes, otherwise });
      }
    }
    if (stops) throw new TemplateError(`${file}: a block is not closed with {{ end }}`);
    return { nodes };
  };
  const { nodes } = parseList(false);
  return { nodes, defines };
}
