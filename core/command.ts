/** The shape every `linnet` sub-command has, so the dispatcher and `--help` treat them alike. */
export interface Command {
  /** One line for `linnet --help`. */
  summary: string;
  /** The full text for `linnet <cmd> --help`. */
  usage: string;
  /** Runs the command; resolves to the process exit code. */
  run(args: string[]): Promise<number>;
}
