import { SsoVerifier, type SsoUser } from '../auth/index.js';
import { ForbiddenError, NotFoundError } from '../errors/index.js';
import type { Roles } from '../meetings/index.js';
import type { ConversationRecord, Store } from '../store/index.js';

/** What the caller may see in a class: learners the list; staff the counters and statuses too. */
export type ClassRole = 'learner' | 'instructor' | 'admin';

export interface ClassAccessOptions {
  verifier: SsoVerifier;
  store: Store;
  /** Team membership (cached per team) and the instructor and admin groups. */
  roles: Roles;
}

/** A signed-in member's view of one class. */
export interface ClassGrant {
  user: SsoUser;
  role: ClassRole;
  conversation: ConversationRecord & { teamAadGroupId: string };
}

/**
 * Who may read a class's recordings: members of the class team, from Graph through Roles'
 * per-team cache (the same one the bot's scheduling check uses), so a page of the tab costs
 * one Graph call a minute, not one per request. Owners and the instructor group are
 * instructors; the admin group sees every class as admin.
 */
export class ClassAccess {
  constructor(private readonly options: ClassAccessOptions) {}

  /** The bearer token's user; UnauthorizedError when absent or invalid. */
  authenticate(authorization: string | undefined): Promise<SsoUser> {
    return this.options.verifier.verify(SsoVerifier.bearer(authorization));
  }

  /** The caller's grant on the class of `channelId`; 404 unknown class, 403 not a member. */
  async forChannel(user: SsoUser, channelId: string): Promise<ClassGrant> {
    const conversation = await this.options.store.conversations.get(channelId);
    if (!conversation || conversation.kind !== 'channel')
      throw new NotFoundError(
        'This channel is not a class yet: an instructor adds Classroom Recorder to the team first.',
      );
    return this.grant(user, conversation);
  }

  /** The caller's grant on the class a recording belongs to. */
  async forRecording(user: SsoUser, recordingId: string) {
    const recording = await this.options.store.recordings.get(recordingId);
    if (!recording) throw new NotFoundError('That recording is no longer available.');
    const conversation = await this.options.store.conversations.get(recording.conversationId);
    if (!conversation)
      throw new ForbiddenError('This recording belongs to a class you are not in.');
    return { recording, grant: await this.grant(user, conversation) };
  }

  private async grant(user: SsoUser, conversation: ConversationRecord): Promise<ClassGrant> {
    const team = conversation.teamAadGroupId;
    if (!team)
      throw new NotFoundError(
        "This class's team is not known yet: post a message to the bot in the channel, then reload.",
      );
    const [roles, admin] = await Promise.all([
      this.options.roles.teamMembers(team).then((m) => m.get(user.id)),
      this.options.roles.isAdmin(user.id),
    ]);
    if (!roles && !admin.allowed)
      throw new ForbiddenError(
        'You are not a member of this class team, so its recordings are not available to you.',
      );
    let role: ClassRole = 'learner';
    if (admin.allowed) role = 'admin';
    else if ((await this.options.roles.canSchedule(user.id, team)).allowed) role = 'instructor';
    return { user, role, conversation: { ...conversation, teamAadGroupId: team } };
  }
}
