import type { TurnContext } from 'botbuilder';

/** One bot command: its name, the help line, and what it does. */
export interface Command {
  name: string;
  usage: string;
  description: string;
  run(context: TurnContext, args: string): Promise<void>;
}

/**
 * The bot's commands: what the router runs, what `help` lists, and what the app package's
 * command menu (`commandLists` in the manifest) must offer; the packager checks they match.
 */
export const BOT_COMMANDS = [
  {
    name: 'schedule',
    usage: 'schedule "Title" <date> <time> for <duration>',
    description: 'schedule a class meeting here; it is always recorded',
  },
  {
    name: 'list',
    usage: 'list',
    description: 'your upcoming class meetings and their recording status',
  },
  {
    name: 'cancel',
    usage: 'cancel <title or number from list>',
    description: 'cancel one of your upcoming class meetings (the record and audit are kept)',
  },
  {
    name: 'report',
    usage: 'report',
    description: 'for admins: recording status of the last 7 days, with failures and their reasons',
  },
  { name: 'help', usage: 'help', description: 'this list' },
] as const;

export type BotCommandName = (typeof BOT_COMMANDS)[number]['name'];

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
