import { TurnContext, type Activity } from 'botbuilder';
import type { ConversationKind, ConversationRecord, Store } from '../src/store/index.js';

interface TeamsChannelData {
  team?: { id?: string; name?: string };
  channel?: { id?: string; name?: string };
  tenant?: { id?: string };
}

/** What a stored conversation reference says about where it is. */
export function describeConversation(
  activity: Partial<Activity>,
  now: Date,
): ConversationRecord | undefined {
  const conversation = activity.conversation;
  if (!conversation?.id || !activity.serviceUrl) return undefined;
  const data = (activity.channelData ?? {}) as TeamsChannelData;
  const type = conversation.conversationType;
  const kind: ConversationKind =
    type === 'channel' ? 'channel' : type === 'groupChat' ? 'groupChat' : 'personal';
  const reference = TurnContext.getConversationReference(activity) as unknown as Record<
    string,
    unknown
  >;
  return {
    _id: conversation.id,
    kind,
    tenantId: conversation.tenantId ?? data.tenant?.id,
    teamId: data.team?.id,
    // A channel conversation id carries ";messageid=…" for threads; the channel is the part before.
    channelId: kind === 'channel' ? (data.channel?.id ?? conversation.id.split(';')[0]) : undefined,
    name: data.channel?.name ?? data.team?.name ?? conversation.name,
    serviceUrl: activity.serviceUrl,
    reference,
    updatedAt: now,
  };
}

/** Stores (or refreshes) the reference of the conversation an activity came from. */
export async function rememberConversation(
  store: Store,
  activity: Partial<Activity>,
  now: Date,
): Promise<ConversationRecord | undefined> {
  const record = describeConversation(activity, now);
  if (record) await store.conversations.upsert(record);
  return record;
}
