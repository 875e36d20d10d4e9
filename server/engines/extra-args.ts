/**
 * Checks an engine's extra arguments (`--flag value` pairs appended to its command line). A flag the
 * deployment spec or the placement owns may not be set a second time: argparse and clap keep the last
 * value (or refuse the repeat), and the replica would then differ from what was planned.
 */
export function extraArgProblems(extra: string[], owned: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  for (let i = 0; i < extra.length; i++) {
    const arg = extra[i]!;
    if (!arg.startsWith('-')) {
      const previous = extra[i - 1];
      if (!previous?.startsWith('-') || previous.includes('=')) problems.push(`extra argument '${arg}' is not a flag or a flag's value`);
      continue;
    }
    if (!/^--?[a-z0-9][a-z0-9-_]*(=.*)?$/i.test(arg)) {
      problems.push(`extra argument '${arg}' is not a well-formed flag`);
      continue;
    }
    const flag = arg.split('=')[0]!.replaceAll('_', '-');
    if (owned.has(flag)) problems.push(`extra argument '${flag}' is set from the deployment spec; change the spec instead`);
  }
  return problems;
}

/** The value an extra argument gives a flag (`--flag v` or `--flag=v`), or undefined when it is not set. */
export function extraArgValue(extra: string[], flag: string): string | undefined {
  for (let i = 0; i < extra.length; i++) {
    const [name, inline] = extra[i]!.includes('=') ? [extra[i]!.slice(0, extra[i]!.indexOf('=')), extra[i]!.slice(extra[i]!.indexOf('=') + 1)] : [extra[i]!, undefined];
    if (name.replaceAll('_', '-') !== flag) continue;
    return inline ?? extra[i + 1];
  }
  return undefined;
}
