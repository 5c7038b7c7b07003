import { randomUUID } from 'node:crypto';
import {
  ActivityTypes,
  TeamsActivityHandler,
  TeamsInfo,
  TurnContext,
  type Activity,
  type AdaptiveCardInvokeResponse,
  type AdaptiveCardInvokeValue,
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
  formatWhen,
  fromWallClock,
  parseScheduleCommand,
  MeetingScheduler,
  type RequestedRecording,
  Roles,
} from '../src/meetings/index.js';
import { GraphRequestError } from '../src/errors/index.js';
import { readJsonBody, sendError, type RouteRegistrar } from '../src/server/index.js';
import type { ConversationRecord, Meeting, NoticeOccasion, Store } from '../src/store/index.js';
import {
  DEFAULT_CONSENT_NOTICE,
  consentNoticeCard,
  recordingCard,
  scheduleFormCard,
  scheduledCard,
} from './cards/index.js';
import { createAdapter } from './adapter.js';
import { inConversation } from './poster.js';
import { BOT_COMMANDS, CommandRouter, type BotCommandName, type Command } from './commands.js';
import { downloadPath, type DownloadLinks } from '../src/downloads/index.js';
import { recordingCardData } from '../src/sync/index.js';
import { rememberConversation } from './conversations.js';

export { describeConversation } from './conversations.js';
export { BOT_COMMANDS, CommandRouter, type BotCommandName } from './commands.js';
export { createAdapter } from './adapter.js';
export { ConnectorPoster } from './poster.js';

export interface BotDeps {
  store: Store;
  logger: Logger;
  /** Absent when Graph is not configured: scheduling then explains what is missing. */
  scheduler: MeetingScheduler | undefined;
  defaultTimeZone: string;
  /** Who may schedule; absent only when Graph is not configured (nobody can schedule then). */
  roles?: Roles;
  /** Download links for the recording card's Download button; absent when sync is off. */
  downloads?: { links: DownloadLinks; baseUrl: string | undefined; ttlSeconds: number };
  /** The bot's app id (BOT_ID), for proactive posts; empty in local mode. */
  botAppId?: string;
  /** The consent notice text (CONSENT_NOTICE_TEXT); a sensible default otherwise. */
  consentNotice?: string;
  now?: () => Date;
}

/** A submitted scheduling form (Action.Submit data plus the inputs). Checked before use. */
const formSchema = z.object({
  action: z.literal('scheduleForm'),
  formId: z.string().uuid(),
  timeZone: z.string().min(1).max(64),
  title: z.string().trim().min(1).max(200),
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  time: z.string().regex(/^\d{2}:\d{2}(:\d{2})?$/),
  duration: z.coerce.number().int().min(5).max(1440).default(60),
  description: z.string().max(2000).optional(),
  classChannel: z.string().max(300).optional(),
  // Not on our form, but a crafted submission may carry them: they are overridden and audited.
  recordAutomatically: z.boolean().optional(),
  allowRecording: z.boolean().optional(),
  allowTranscription: z.boolean().optional(),
});
type FormValues = z.infer<typeof formSchema>;

/** The string fields of a raw submission, to put back on the form after an error. */
function typedValues(raw: unknown): Partial<FormValues> {
  const r = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const text = (k: string, max: number) =>
    typeof r[k] === 'string' ? (r[k] as string).slice(0, max) : undefined;
  const formId = text('formId', 64);
  const duration = Number(r.duration);
  return {
    formId: formId && /^[0-9a-f-]{36}$/i.test(formId) ? formId : undefined,
    title: text('title', 200),
    date: text('date', 10),
    time: text('time', 8),
    description: text('description', 2000),
    classChannel: text('classChannel', 300),
    duration: Number.isFinite(duration) ? duration : undefined,
  };
}

/** What to tell the user for each invalid field, in the form's own words. */
const FORM_ERRORS: Record<string, string> = {
  title: 'Give the class a title (up to 200 characters).',
  date: 'Pick a date.',
  time: 'Pick a start time.',
  duration: 'The duration must be between 5 and 1440 minutes.',
  description: 'The description is too long (2000 characters at most).',
  classChannel: 'Pick the class channel from the list.',
};

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
      const submitted = context.activity.value as { action?: unknown } | undefined;
      if (submitted?.action === 'scheduleForm') {
        await this.scheduleFromForm(context, submitted);
        await next();
        return;
      }
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

  /**
   * Action.Execute from a recording card. `downloadRecording` gives the member who pressed it
   * a short-lived link bound to them; the card with the link replaces the original for that
   * user only (Teams shows an Action.Execute response to the interactor alone).
   */
  protected override async onAdaptiveCardInvoke(
    context: TurnContext,
    invokeValue: AdaptiveCardInvokeValue,
  ): Promise<AdaptiveCardInvokeResponse> {
    const error = (statusCode: number, code: string, message: string) => ({
      statusCode,
      type: 'application/vnd.microsoft.error',
      value: { code, message },
    });
    if (invokeValue.action?.verb !== 'downloadRecording')
      return error(400, 'BadRequest', 'This card action is not supported.');
    const recordingId = (invokeValue.action.data as { recordingId?: unknown } | undefined)
      ?.recordingId;
    if (typeof recordingId !== 'string' || recordingId.length > 512)
      return error(400, 'BadRequest', 'The card did not say which recording.');
    const downloads = this.deps.downloads;
    if (!downloads?.baseUrl)
      return error(
        503,
        'ServiceUnavailable',
        'Downloads are not set up yet (PUBLIC_BASE_URL). Ask your IT admin.',
      );
    const userId = context.activity.from?.aadObjectId;
    const recording = await this.deps.store.recordings.get(recordingId);
    const meeting = recording && (await this.deps.store.meetings.get(recording.meetingId));
    if (!recording || !meeting) return error(404, 'NotFound', 'That recording is not available.');
    // Only members of the class conversation get a link: the action must come from the class
    // conversation, and the connector must know the user there.
    const here = context.activity.conversation.id.split(';')[0];
    let member = Boolean(userId) && here === recording.conversationId;
    if (member) {
      try {
        const m = await TeamsInfo.getMember(context, context.activity.from.id);
        member = m.aadObjectId === undefined || m.aadObjectId === userId;
      } catch {
        member = false;
      }
    }
    if (!member) {
      this.deps.logger.warn(
        { recordingId, userId, conversationId: here },
        'download link refused: not a member of the class',
      );
      return error(403, 'Forbidden', 'Only members of this class can download its recordings.');
    }
    const { token } = downloads.links.mint(recording._id, {
      id: userId!,
      name: context.activity.from.name,
    });
    const card = recordingCard({
      ...recordingCardData(recording, meeting),
      downloadUrl: `${downloads.baseUrl}${downloadPath(token)}`,
      linkMinutes: Math.round(downloads.ttlSeconds / 60),
    });
    return {
      statusCode: 200,
      type: card.contentType,
      value: card.content as Record<string, unknown>,
    };
  }

  private userZone(context: TurnContext): string {
    const zone = context.activity.localTimezone;
    return zone && isValidTimeZone(zone) ? zone : this.deps.defaultTimeZone;
  }

  private commands(): Command[] {
    const run: Record<BotCommandName, Command['run']> = {
      schedule: (context, args) => this.schedule(context, args),
      list: (context) => this.list(context),
      cancel: (context, args) => this.cancel(context, args),
      report: (context) => this.report(context),
      help: async (context) => {
        await context.sendActivity(this.router.helpText());
      },
    };
    return BOT_COMMANDS.map((c) => ({ ...c, run: run[c.name] }));
  }

  private async schedule(context: TurnContext, args: string): Promise<void> {
    const zone = this.userZone(context);
    if (!args.trim()) {
      // No details typed: offer the form instead.
      const channels = await this.classChoices(context);
      await context.sendActivity({
        attachments: [scheduleFormCard({ formId: randomUUID(), timeZone: zone, channels })],
      });
      return;
    }
    const parsed = parseScheduleCommand(args, { now: this.now(), timeZone: zone });
    if (!parsed.ok) {
      await context.sendActivity(parsed.error);
      return;
    }
    const { value } = parsed;
    const activity = context.activity;
    await this.runSchedule(context, {
      // A retried activity keeps its id: the same request never makes two meetings.
      requestKey: `${activity.conversation.id}|${activity.id ?? ''}`,
      title: value.title,
      start: value.start,
      end: value.end,
      zone: value.timeZone,
      requestedRecording: value.recordingOffRequest
        ? { freeText: value.recordingOffRequest }
        : undefined,
      source: 'command',
    });
  }

  /** A submitted scheduling form: validated, then scheduled; errors go back onto the form. */
  private async scheduleFromForm(context: TurnContext, raw: unknown): Promise<void> {
    const parsed = formSchema.safeParse(raw);
    const zone =
      parsed.success && isValidTimeZone(parsed.data.timeZone)
        ? parsed.data.timeZone
        : this.userZone(context);
    // What the user typed is kept on the form, even when it failed validation.
    const values: Partial<FormValues> = parsed.success ? parsed.data : typedValues(raw);
    // The channel list is read only when the form goes back to the user.
    const reshow = async (error: string): Promise<void> => {
      const card = scheduleFormCard({
        channels: await this.classChoices(context),
        classChannel: values.classChannel,
        formId: values.formId ?? randomUUID(),
        timeZone: zone,
        title: values.title,
        date: values.date,
        time: values.time,
        duration: values.duration,
        description: values.description,
        error,
      });
      await this.replaceOrSend(context, card);
    };
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      await reshow(FORM_ERRORS[String(issue.path[0])] ?? 'Please check the form and try again.');
      return;
    }
    const f = parsed.data;
    let classConversation: ConversationRecord | undefined;
    if (f.classChannel) {
      const picked = await this.deps.store.conversations.get(f.classChannel);
      if (picked?.kind !== 'channel') return reshow(FORM_ERRORS.classChannel!);
      classConversation = picked;
    }
    const start = fromWallClock(f.date, f.time, zone);
    if (!start)
      return reshow('That date and time do not exist in your time zone. Pick another time.');
    if (start.getTime() <= this.now().getTime())
      return reshow('That time has already passed. Pick a time in the future.');
    const recordingOff =
      f.recordAutomatically === false ||
      f.allowRecording === false ||
      f.allowTranscription === false;
    const meeting = await this.runSchedule(context, {
      // The form id: a double click or a resubmission is one request.
      requestKey: `form|${f.formId}`,
      title: f.title.trim(),
      start,
      end: new Date(start.getTime() + f.duration * 60_000),
      zone,
      description: f.description,
      classConversation,
      requestedRecording: recordingOff
        ? {
            recordAutomatically: f.recordAutomatically,
            allowRecording: f.allowRecording,
            allowTranscription: f.allowTranscription,
          }
        : undefined,
      source: 'form',
    });
    if (meeting) {
      const scheduled = meeting.recordingStatus === 'enabled';
      await this.replaceOrSend(
        context,
        scheduledCard({
          scheduled,
          title: meeting.title,
          when: formatWhen(meeting.startDateTime, zone),
          status: scheduled ? 'on (automatic)' : (meeting.failureReason ?? meeting.recordingStatus),
        }),
      );
    }
  }

  /** Updates the card the user acted on, or sends a new one when there is none to update. */
  private async replaceOrSend(
    context: TurnContext,
    card: ReturnType<typeof scheduleFormCard>,
  ): Promise<void> {
    const replyToId = context.activity.replyToId;
    if (replyToId)
      await context.updateActivity({
        id: replyToId,
        type: ActivityTypes.Message,
        attachments: [card],
      });
    else await context.sendActivity({ attachments: [card] });
  }

  private async runSchedule(
    context: TurnContext,
    input: {
      requestKey: string;
      title: string;
      start: Date;
      end: Date;
      zone: string;
      description?: string;
      /** The class channel picked on the form; otherwise the conversation scheduled from. */
      classConversation?: ConversationRecord;
      requestedRecording?: RequestedRecording;
      source: 'command' | 'form';
    },
  ): Promise<Meeting | undefined> {
    const organizerId = context.activity.from?.aadObjectId;
    if (!organizerId) {
      await context.sendActivity(
        "I can't tell who you are in your organization's directory, so I can't put the meeting in your calendar. Try again from Teams signed in with your school account.",
      );
      return undefined;
    }
    if (!this.deps.scheduler) {
      await context.sendActivity(
        'Scheduling is not available yet: this app has no Microsoft Graph access configured. Ask your IT admin to finish the setup (AAD_APP_* settings).',
      );
      return undefined;
    }
    await context.sendActivity({ type: ActivityTypes.Typing });
    const activity = context.activity;
    const here = (activity.channelData as { team?: { id?: string } } | undefined)?.team;
    const target = input.classConversation;
    const teamId = target ? target.teamId : here?.id;
    if (this.deps.roles) {
      let decision;
      try {
        const teamGroupId = await this.teamGroupId(context, teamId, target);
        decision = await this.deps.roles.canSchedule(organizerId, teamGroupId);
      } catch (err) {
        if (!(err instanceof GraphRequestError)) throw err;
        await context.sendActivity(
          `I couldn't check whether you may schedule class meetings here: ${err.message}`,
        );
        return undefined;
      }
      if (!decision.allowed) {
        await context.sendActivity(
          `Sorry, only ${this.deps.roles.whoCanSchedule} can schedule class meetings. Ask one of them to schedule it, or ask your IT admin if you should be an instructor.`,
        );
        return undefined;
      }
    }
    const attendees = await this.classMembers(context, organizerId, teamId);
    const result = await this.deps.scheduler.schedule({
      requestKey: input.requestKey,
      organizer: { id: organizerId, name: activity.from.name },
      title: input.title,
      start: input.start,
      end: input.end,
      timeZone: input.zone,
      description: input.description,
      attendees,
      classRef: target
        ? { conversationId: target._id, teamId: target.teamId, channelId: target.channelId }
        : {
            conversationId: activity.conversation.id.split(';')[0]!,
            teamId,
            channelId:
              activity.conversation.conversationType === 'channel'
                ? activity.conversation.id.split(';')[0]
                : undefined,
          },
      requestedRecording: input.requestedRecording,
      source: input.source,
    });
    const m = result.meeting;
    const mandatory = result.overrides.length
      ? '\n\nRecording is mandatory for class meetings, so I kept it on.'
      : '';
    if (m.recordingStatus === 'enabled') {
      await context.sendActivity(
        `Scheduled **${m.title}** for ${formatWhen(m.startDateTime, input.zone)}. It will be recorded automatically.${m.joinWebUrl ? `\n\n[Join the meeting](${m.joinWebUrl})` : ''}${mandatory}`,
      );
      const elsewhere = target && target._id !== activity.conversation.id.split(';')[0];
      await this.postConsent(context, m, 'scheduled', elsewhere ? target : undefined);
      if (elsewhere)
        await context.sendActivity(
          `I posted the recording notice in ${target.teamName ?? 'the class team'} › ${target.channelName ?? 'the class channel'}.`,
        );
    } else {
      await context.sendActivity(
        `I couldn't finish scheduling **${m.title}**: ${m.failureReason ?? 'an unknown error'}${mandatory}`,
      );
    }
    return m;
  }

  /**
   * Posts the recording-consent notice into the current conversation, once per meeting and
   * occasion (a duplicate activity never posts it twice), and records the delivery.
   */
  private async postConsent(
    context: TurnContext,
    meeting: Meeting,
    occasion: NoticeOccasion,
    /** Another conversation (the class channel picked on the form); the current one otherwise. */
    target?: ConversationRecord,
  ): Promise<void> {
    const notices = this.deps.store.notices;
    const conversationId = target?._id ?? context.activity.conversation.id;
    if (!(await notices.claim(meeting._id, occasion, conversationId, this.now()))) return;
    try {
      const card = consentNoticeCard({
        occasion,
        title: meeting.title,
        when: formatWhen(meeting.startDateTime, meeting.timeZone ?? this.deps.defaultTimeZone),
        joinUrl: occasion === 'scheduled' ? meeting.joinWebUrl : undefined,
        notice: this.deps.consentNotice ?? DEFAULT_CONSENT_NOTICE,
      });
      const sent = target
        ? await this.sendTo(context, target, { attachments: [card] })
        : await context.sendActivity({ attachments: [card] });
      await notices.markSent(meeting._id, occasion, sent?.id ?? '', this.now());
    } catch (err) {
      // Give the claim back so that the notice is not lost, then let onTurnError report it.
      await notices.release(meeting._id, occasion);
      throw err;
    }
  }

  /**
   * The Microsoft 365 group behind the team this activity came from, if any. Teams puts it on
   * some activities only (installs, conversation updates), so messages ask the connector.
   */
  private async teamGroupId(
    context: TurnContext,
    teamId: string | undefined,
    known?: ConversationRecord,
  ): Promise<string | undefined> {
    if (!teamId) return undefined;
    const here = (context.activity.channelData as { team?: { id?: string; aadGroupId?: string } })
      ?.team;
    const fromActivity = here?.id === teamId ? here.aadGroupId : undefined;
    const stored = known?.teamAadGroupId ?? fromActivity;
    if (stored) return stored;
    const details = await TeamsInfo.getTeamDetails(context, teamId);
    if (details.aadGroupId)
      await this.deps.store.conversations.setTeamAadGroupId(teamId, details.aadGroupId, this.now());
    return details.aadGroupId ?? undefined;
  }

  /** Sends into another stored conversation (a proactive message through the same adapter). */
  private async sendTo(
    context: TurnContext,
    target: ConversationRecord,
    activity: Partial<Activity>,
  ): Promise<{ id?: string } | undefined> {
    let sent: { id?: string } | undefined;
    await inConversation(
      context.adapter as CloudAdapter,
      this.deps.botAppId ?? '',
      target,
      async (proactive) => {
        sent = await proactive.sendActivity(activity);
      },
    );
    return sent;
  }

  /** The class channels to offer on the form: the current channel first, then the others. */
  private async classChoices(context: TurnContext): Promise<{ title: string; value: string }[]> {
    const here =
      context.activity.conversation.conversationType === 'channel'
        ? context.activity.conversation.id.split(';')[0]
        : undefined;
    const channels = await this.deps.store.conversations.listChannels();
    channels.sort((a, b) => Number(b._id === here) - Number(a._id === here));
    return channels.map((c) => ({
      title: `${c.teamName ?? 'Team'} › ${c.channelName ?? c.name ?? c._id}`,
      value: c._id,
    }));
  }

  /** The class: the team's members (or this chat's) except the organizer, by email. */
  private async classMembers(
    context: TurnContext,
    organizerId: string,
    teamId: string | undefined,
  ): Promise<{ address: string; name?: string }[]> {
    const out: { address: string; name?: string }[] = [];
    let token: string | undefined;
    do {
      const page = teamId
        ? await TeamsInfo.getPagedTeamMembers(context, teamId, 500, token)
        : await TeamsInfo.getPagedMembers(context, 500, token);
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

  private async report(context: TurnContext): Promise<void> {
    const userId = context.activity.from?.aadObjectId;
    const roles = this.deps.roles;
    if (!userId || !roles) {
      await context.sendActivity('Reports are for admins, and I cannot check who you are here.');
      return;
    }
    let admin;
    try {
      admin = await roles.isAdmin(userId);
    } catch (err) {
      if (!(err instanceof GraphRequestError)) throw err;
      await context.sendActivity(`I couldn't check whether you are an admin: ${err.message}`);
      return;
    }
    if (!admin.allowed) {
      await context.sendActivity(
        'Sorry, reports are only for members of the admin group set up for Classroom Recorder. Ask your IT admin if you need access.',
      );
      return;
    }
    const since = new Date(this.now().getTime() - 7 * 86_400_000);
    const { counts, failures } = await this.deps.store.meetings.statusReport(since);
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const zone = this.userZone(context);
    const lines = [
      `**Recording status, last 7 days** (${total} meeting${total === 1 ? '' : 's'} scheduled)`,
      `- recording on: ${counts.enabled}`,
      `- setting up: ${counts.pending}`,
      `- needs an access policy: ${counts.failed_policy}`,
      `- needs a permission: ${counts.failed_permission}`,
      `- other Graph failures: ${counts.failed_graph}`,
    ];
    if (failures.length) {
      lines.push(
        '',
        '**Failures**',
        ...failures.map(
          (m) =>
            `- **${m.title}** (${formatWhen(m.startDateTime, zone)}, organizer ${m.organizerId}): ${m.failureReason ?? m.recordingStatus}`,
        ),
      );
    }
    // Recording sync: cards that could not be posted, the inbox, the last reconcile, drops.
    const store = this.deps.store;
    const [deadCards, inbox, reconcile, drops] = await Promise.all([
      store.recordings.listFailedCards(10),
      store.inbox.countByStatus(),
      store.stats.get('reconcile.last'),
      store.stats.list('notifications.dropped.'),
    ]);
    lines.push(
      '',
      '**Recording cards**',
      `- notifications waiting: ${inbox.pending + inbox.processing}, failed for good: ${inbox.failed}, ignored (meetings not scheduled here): ${inbox.ignored}`,
    );
    for (const r of deadCards)
      lines.push(
        `- not posted: **${r.title}** (${r._id.slice(0, 12)}…): ${r.card.error ?? 'unknown error'}`,
      );
    if (reconcile?.value) {
      const v = reconcile.value as {
        at: Date;
        reason: string;
        recordingsFound: number;
        transcriptsFound: number;
        reenforced: number;
        errors: string[];
      };
      lines.push(
        `- last reconcile: ${formatWhen(new Date(v.at), zone)} (${v.reason}): found ${v.recordingsFound} recording(s) and ${v.transcriptsFound} transcript(s) notifications missed, re-enabled recording on ${v.reenforced} meeting(s)${v.errors.length ? `, ${v.errors.length} error(s): ${v.errors[0]}` : ''}`,
      );
    } else lines.push('- last reconcile: not yet');
    const dropped = drops.reduce((n, d) => n + (d.count ?? 0), 0);
    if (dropped)
      lines.push(
        `- notifications refused at the webhook: ${dropped} (${drops.map((d) => `${d._id.slice('notifications.dropped.'.length).replace(/_/g, ' ')}: ${d.count}`).join('; ')})`,
      );
    await context.sendActivity(lines.join('\n'));
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
        const body = readJsonBody(req, 'Activities');
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

/**
 * The bot as the app runs it: scheduler and roles built from config whenever Graph is
 * configured. `now` and `retryDelayMs` exist for tests (a fixed clock, fast retries).
 */
export function classroomBotRoutes(
  config: Config,
  options: {
    now?: () => Date;
    retryDelayMs?: number;
    /** Shared with the recording sync, which posts cards through it. */
    adapter?: CloudAdapter;
    /** Shared with the download route, which checks what this signs. */
    links?: DownloadLinks;
    /** Told when a meeting records (recording sync makes sure its organizer is subscribed). */
    onMeetingEnabled?: (meeting: Meeting) => void;
  } = {},
): RouteRegistrar {
  return botRoutes(
    config,
    ({ store, logger, graph }) =>
      new ClassroomBot({
        store,
        logger,
        defaultTimeZone: config.defaultTimeZone,
        consentNotice: config.consentNoticeText,
        botAppId: config.bot?.appId,
        downloads: options.links && {
          links: options.links,
          baseUrl: config.sync.publicBaseUrl,
          ttlSeconds: config.sync.downloadLinkTtlSeconds,
        },
        now: options.now,
        roles:
          graph &&
          new Roles({
            graph,
            instructorGroupId: config.instructorGroupId,
            adminGroupId: config.adminGroupId,
          }),
        scheduler:
          graph &&
          new MeetingScheduler({
            store,
            graph,
            logger,
            now: options.now,
            retryDelayMs: options.retryDelayMs,
            onEnabled: options.onMeetingEnabled,
          }),
      }),
    options.adapter,
  );
}
