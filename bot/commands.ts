import type { TurnContext } from 'botbuilder';

/** One bot command: its name, the help line, and what it does. */
export interface Command {
  name: string;
  usage: string;
  description: string;
  run(context: TurnContext, args: string): Promise<void>;
}

/**
 * Routes a message to a command by its first word, through a table rather than a chain of
 * substring checks. Unknown text gets the help, with an example.
 */
export class CommandRouter {
  private readonly byName = new Map<string, Command>();

  constructor(commands: Command[]) {
    for (const c of commands) this.byName.set(c.name, c);
  }

  get commands(): Command[] {
    return [...this.byName.values()];
  }

  /** The command a text names (its first word, case-insensitive), and the rest of the text. */
  resolve(text: string): { command: Command | undefined; args: string } {
    const trimmed = text.trim();
    const [first = '', ...rest] = trimmed.split(/\s+/);
    return {
      command: this.byName.get(first.toLowerCase().replace(/^\//, '')),
      args: rest.join(' '),
    };
  }

  helpText(): string {
    return [
      'Here is what I can do:',
      ...this.commands.map((c) => `- **${c.usage}**: ${c.description}`),
    ].join('\n');
  }
}
