import {
  ActivityTypes,
  TeamsActivityHandler,
  TeamsInfo,
  TurnContext,
  type CloudAdapter,
} from 'botbuilder';
import type { Request, Response, Server } from 'restify';
import { z } from 'zod';
import type { Config } from '../src/config/index.js';
import { ValidationError } from '../src/errors/index.js';
import type { Logger } from '../src/logging/index.js';
import {
  SCHEDULE_EXAMPLE,
  isValidTimeZone,
  parseScheduleCommand,
  type MeetingScheduler,
} from '../src/meetings/index.js';
import { sendError, type RouteRegistrar } from '../src/server/index.js';
import type { Meeting, NoticeOccasion, Store } from '../src/store/index.js';
import { DEFAULT_CONSENT_NOTICE, consentNoticeCard } from './cards/index.js';
import { createAdapter } from './adapter.js';
import { CommandRouter, type Command } from './commands.js';
import { rememberConversation } from './conversations.js';

export { describeConversation } from './conversations.js';
export { CommandRouter } from './commands.js';

export interface BotDeps {
  store: Store;
  logger: Logger;
  /** Absent when Graph is not configured: scheduling then explains what is missing. */
  scheduler: MeetingScheduler | undefined;
  defaultTimeZone: string;
  /** The consent notice text (CONSENT_NOTICE_TEXT); a sensible default otherwise. */
  consentNotice?: string;
  now?: () => Date;
}

function formatWhen(start: Date, zone: string): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: zone,
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  }).format(start);
}

/**
 * The Teams-facing bot: remembers every conversation it sees (for proactive posts), and routes
 * messages to commands.
 */
export class ClassroomBot extends TeamsActivityHandler {
  readonly router: CommandRouter;
  private readonly now: () => Date;

  constructor(private readonly deps: BotDeps) {
    super();
    this.now = deps.now ?? (() => new Date());
    this.router = new CommandRouter(this.commands());

    this.onConversationUpdate(async (context, next) => {
      await rememberConversation(deps.store, context.activity, this.now());
      await next();
    });
    this.onInstallationUpdate(async (context, next) => {
      await rememberConversation(deps.store, context.activity, this.now());
      await next();
    });
    // Teams tells the bot when a meeting it is in starts: repeat the consent notice in its chat.
    this.onTeamsMeetingStartEvent(async (details, context, next) => {
      const joinUrl =
        details.joinUrl ?? (context.activity.value as { JoinUrl?: string } | undefined)?.JoinUrl;
      const meeting = joinUrl ? await deps.store.meetings.findByJoinWebUrl(joinUrl) : null;
      if (meeting) await this.postConsent(context, meeting, 'started');
      await next();
    });
    this.onMessage(async (context, next) => {
      await rememberConversation(deps.store, context.activity, this.now());
      const text =
        TurnContext.removeRecipientMention(context.activity)?.trim() ??
        context.activity.text?.trim() ??
        '';
      const { command, args } = this.router.resolve(text);
      if (command) await command.run(context, args);
      else
        await context.sendActivity(
          `I didn't catch that. ${this.router.helpText()}\n\nFor example: ${SCHEDULE_EXAMPLE}`,
        );
      await next();
    });
  }

  private userZone(context: TurnContext): string {
    const zone = context.activity.localTimezone;
    return zone && isValidTimeZone(zone) ? zone : this.deps.defaultTimeZone;
  }

  private commands(): Command[] {
    return [
      {
        name: 'schedule',
        usage: 'schedule "Title" <date> <time> for <duration>',
        description: 'schedule a class meeting here; it is always recorded',
        run: (context, args) => this.schedule(context, args),
      },
      {
        name: 'list',
        usage: 'list',
        description: 'your upcoming class meetings and their recording status',
        run: (context) => this.list(context),
      },
      {
        name: 'cancel',
        usage: 'cancel <title or number from list>',
        description: 'cancel one of your upcoming class meetings (the record and audit are kept)',
        run: (context, args) => this.cancel(context, args),
      },
      {
        name: 'help',
        usage: 'help',
        description: 'this list',
        run: async (context) => {
          await context.sendActivity(this.router.helpText());
        },
      },
    ];
  }

  private async schedule(context: TurnContext, args: string): Promise<void> {
    const zone = this.userZone(context);
    const parsed = parseScheduleCommand(args, { now: this.now(), timeZone: zone });
    if (!parsed.ok) {
      await context.sendActivity(parsed.error);
      return;
    }
    const organizerId = context.activity.from?.aadObjectId;
    if (!organizerId) {
      await context.sendActivity(
        "I can't tell who you are in your organization's directory, so I can't put the meeting in your calendar. Try again from Teams signed in with your school account.",
      );
      return;
    }
    if (!this.deps.scheduler) {
      await context.sendActivity(
        'Scheduling is not available yet: this app has no Microsoft Graph access configured. Ask your IT admin to finish the setup (AAD_APP_* settings).',
      );
      return;
    }
    await context.sendActivity({ type: ActivityTypes.Typing });
    const attendees = await this.classMembers(context, organizerId);
    const activity = context.activity;
    const { value } = parsed;
    const result = await this.deps.scheduler.schedule({
      // A retried activity keeps its id: the same request never makes two meetings.
      requestKey: `${activity.conversation.id}|${activity.id ?? ''}`,
      organizer: { id: organizerId, name: activity.from.name },
      title: value.title,
      start: value.start,
      end: value.end,
      timeZone: value.timeZone,
      attendees,
      classRef: {
        conversationId: activity.conversation.id.split(';')[0]!,
        teamId: (activity.channelData as { team?: { id?: string } } | undefined)?.team?.id,
        channelId:
          activity.conversation.conversationType === 'channel'
            ? activity.conversation.id.split(';')[0]
            : undefined,
      },
      requestedRecording: value.recordingOffRequest
        ? { freeText: value.recordingOffRequest }
        : undefined,
      source: 'command',
    });
    const m = result.meeting;
    const mandatory = result.overrides.length
      ? '\n\nRecording is mandatory for class meetings, so I kept it on.'
      : '';
    if (m.recordingStatus === 'enabled') {
      await context.sendActivity(
        `Scheduled **${m.title}** for ${formatWhen(m.startDateTime, zone)}. It will be recorded automatically.${m.joinWebUrl ? `\n\n[Join the meeting](${m.joinWebUrl})` : ''}${mandatory}`,
      );
      await this.postConsent(context, m, 'scheduled');
    } else {
      await context.sendActivity(
        `I couldn't finish scheduling **${m.title}**: ${m.failureReason ?? 'an unknown error'}${mandatory}`,
      );
    }
  }

  /**
   * Posts the recording-consent notice into the current conversation, once per meeting and
   * occasion (a duplicate activity never posts it twice), and records the delivery.
   */
  private async postConsent(
    context: TurnContext,
    meeting: Meeting,
    occasion: NoticeOccasion,
  ): Promise<void> {
    const notices = this.deps.store.notices;
    const conversationId = context.activity.conversation.id;
    if (!(await notices.claim(meeting._id, occasion, conversationId, this.now()))) return;
    try {
      const card = consentNoticeCard({
        occasion,
        title: meeting.title,
        when: formatWhen(meeting.startDateTime, meeting.timeZone ?? this.deps.defaultTimeZone),
        joinUrl: occasion === 'scheduled' ? meeting.joinWebUrl : undefined,
        notice: this.deps.consentNotice ?? DEFAULT_CONSENT_NOTICE,
      });
      const sent = await context.sendActivity({ attachments: [card] });
      await notices.markSent(meeting._id, occasion, sent?.id ?? '', this.now());
    } catch (err) {
      // Give the claim back so that the notice is not lost, then let onTurnError report it.
      await notices.release(meeting._id, occasion);
      throw err;
    }
  }

  /** The class: everyone in this conversation's roster except the organizer, by email. */
  private async classMembers(
    context: TurnContext,
    organizerId: string,
  ): Promise<{ address: string; name?: string }[]> {
    const out: { address: string; name?: string }[] = [];
    let token: string | undefined;
    do {
      const page = await TeamsInfo.getPagedMembers(context, 500, token);
      for (const m of page.members) {
        const address = m.email ?? m.userPrincipalName;
        if (address && m.aadObjectId !== organizerId) out.push({ address, name: m.name });
      }
      token = page.continuationToken;
    } while (token);
    return out;
  }

  /** The organizer's meetings that have not ended and are not cancelled, soonest first. */
  private async upcoming(organizerId: string): Promise<Meeting[]> {
    const now = this.now();
    return (await this.deps.store.meetings.listByOrganizer(organizerId, 50))
      .filter((m) => m.endDateTime > now && !m.cancelledAt)
      .reverse();
  }

  private async cancel(context: TurnContext, args: string): Promise<void> {
    const organizerId = context.activity.from?.aadObjectId;
    if (!organizerId || !this.deps.scheduler) {
      await context.sendActivity(
        "I can't cancel meetings here: I can't tell who you are, or Microsoft Graph is not configured.",
      );
      return;
    }
    const wanted = args.trim().replace(/^["“']|["”']$/g, '');
    if (!wanted) {
      await context.sendActivity(
        'Which meeting? Say **cancel** and its title, or its number from **list**.',
      );
      return;
    }
    const meetings = await this.upcoming(organizerId);
    const byNumber = /^\d+$/.test(wanted) ? meetings[Number(wanted) - 1] : undefined;
    const lower = wanted.toLowerCase();
    const exact = meetings.filter((m) => m.title.toLowerCase() === lower);
    const candidates = byNumber
      ? [byNumber]
      : exact.length
        ? exact
        : meetings.filter((m) => m.title.toLowerCase().startsWith(lower));
    if (candidates.length === 0) {
      await context.sendActivity(
        `You have no upcoming class meeting called "${wanted}". Say **list** to see them.`,
      );
      return;
    }
    if (candidates.length > 1) {
      const zone = this.userZone(context);
      await context.sendActivity(
        [
          'More than one meeting matches; say **cancel** with its number from **list**:',
          ...candidates.map((m) => `- **${m.title}**, ${formatWhen(m.startDateTime, zone)}`),
        ].join('\n'),
      );
      return;
    }
    const m = candidates[0]!;
    await context.sendActivity({ type: ActivityTypes.Typing });
    await this.deps.scheduler.cancel(m, { id: organizerId, name: context.activity.from.name });
    await context.sendActivity(
      `Cancelled **${m.title}** (${formatWhen(m.startDateTime, this.userZone(context))}). The calendar invitation is withdrawn; the record stays in the audit log.`,
    );
  }

  private async list(context: TurnContext): Promise<void> {
    const organizerId = context.activity.from?.aadObjectId;
    if (!organizerId) {
      await context.sendActivity("I can't tell who you are, so I can't list your meetings.");
      return;
    }
    const meetings = await this.upcoming(organizerId);
    if (meetings.length === 0) {
      await context.sendActivity(
        `You have no upcoming class meetings. Schedule one with: ${SCHEDULE_EXAMPLE}`,
      );
      return;
    }
    const zone = this.userZone(context);
    const status: Record<string, string> = {
      enabled: 'recording on',
      pending: 'setting up',
      failed_policy: 'needs an admin (access policy)',
      failed_permission: 'needs an admin (permission)',
      failed_graph: 'failed',
    };
    await context.sendActivity(
      [
        'Your upcoming class meetings:',
        ...meetings.map(
          (m, i) =>
            `${i + 1}. **${m.title}**, ${formatWhen(m.startDateTime, zone)}: ${status[m.recordingStatus] ?? m.recordingStatus}`,
        ),
      ].join('\n'),
    );
  }
}

/** The minimal shape checked before an activity reaches botbuilder. */
const activitySchema = z
  .object({
    type: z.string().min(1),
    id: z.string().optional(),
    serviceUrl: z.string().url(),
    channelId: z.string().min(1),
    conversation: z.object({ id: z.string().min(1) }).passthrough(),
    from: z
      .object({ id: z.string().min(1) })
      .passthrough()
      .optional(),
  })
  .passthrough();

/** `POST /api/messages`: JSON only, schema-checked, then the adapter (JWT when credentials are set). */
export function botRoutes(
  config: Pick<Config, 'bot'>,
  makeBot: (deps: Parameters<RouteRegistrar>[1]) => ClassroomBot,
  adapter?: CloudAdapter,
): RouteRegistrar {
  return (server: Server, deps) => {
    const bfAdapter = adapter ?? createAdapter(config.bot, deps.logger);
    const bot = makeBot(deps);
    server.post('/api/messages', async (req: Request, res: Response) => {
      try {
        const type = (req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'application/json') {
          res.status(415);
          res.json({
            error: {
              code: 'UNSUPPORTED_MEDIA_TYPE',
              message: 'Activities must be sent as application/json.',
              requestId: req.requestId,
            },
          });
          return;
        }
        let body: unknown;
        try {
          body = JSON.parse((req.body as Buffer | undefined)?.toString('utf8') ?? '');
        } catch {
          throw new ValidationError('The request body is not valid JSON.');
        }
        const parsed = activitySchema.safeParse(body);
        if (!parsed.success)
          throw new ValidationError(
            `Not a valid activity: ${parsed.error.issues[0]!.path.join('.')} ${parsed.error.issues[0]!.message}`,
          );
        req.body = parsed.data;
        await bfAdapter.process(req as never, res as never, (context) => bot.run(context));
      } catch (err) {
        if (!res.headersSent) sendError(res, err, req.requestId);
      }
    });
  };
}
