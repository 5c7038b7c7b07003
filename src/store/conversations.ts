import type { Collection } from 'mongodb';
import type { Runner } from './retry.js';

export type ConversationKind = 'personal' | 'groupChat' | 'channel';

/** Where the bot can post proactively: a stored Bot Framework conversation reference. */
export interface ConversationRecord {
  /** The Bot Framework conversation id. */
  _id: string;
  kind: ConversationKind;
  tenantId?: string;
  teamId?: string;
  /** The team's Microsoft 365 group (Teams sends it on installs and conversation updates). */
  teamAadGroupId?: string;
  teamName?: string;
  channelId?: string;
  channelName?: string;
  name?: string;
  serviceUrl: string;
  /** The ConversationReference as botbuilder produced it. */
  reference: Record<string, unknown>;
  updatedAt: Date;
}

export class ConversationsRepository {
  constructor(
    private readonly coll: Collection<ConversationRecord>,
    private readonly run: Runner,
  ) {}

  /** Creates or refreshes a reference (service URLs change; the latest wins). */
  async upsert(record: ConversationRecord): Promise<void> {
    const { _id, ...rest } = record;
    // Activities differ in what they carry (names, the group id): keep what an earlier one said.
    const fields = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
    await this.run('conversations.upsert', () =>
      this.coll.updateOne({ _id }, { $set: fields }, { upsert: true }),
    );
  }

  /**
   * Records a team's Microsoft 365 group on all its conversations (Teams sends it on some
   * activities only; the bot asks the connector otherwise, and the tab needs it for membership).
   */
  async setTeamAadGroupId(teamId: string, teamAadGroupId: string, now: Date): Promise<void> {
    await this.run('conversations.setTeamAadGroupId', () =>
      this.coll.updateMany(
        { teamId, teamAadGroupId: { $ne: teamAadGroupId } },
        { $set: { teamAadGroupId, updatedAt: now } },
      ),
    );
  }

  get(id: string): Promise<ConversationRecord | null> {
    return this.run('conversations.get', () => this.coll.findOne({ _id: id }));
  }

  findByChannel(teamId: string, channelId: string): Promise<ConversationRecord | null> {
    return this.run('conversations.findByChannel', () => this.coll.findOne({ teamId, channelId }));
  }

  /** Team channels the bot is in, for the scheduling form's class picker. */
  listChannels(limit = 100): Promise<ConversationRecord[]> {
    return this.run('conversations.listChannels', () =>
      this.coll
        .find({ kind: 'channel' })
        .sort({ teamName: 1, channelName: 1 })
        .limit(limit)
        .toArray(),
    );
  }

  listByTeam(teamId: string): Promise<ConversationRecord[]> {
    return this.run('conversations.listByTeam', () =>
      this.coll.find({ teamId }).sort({ name: 1 }).toArray(),
    );
  }
}
