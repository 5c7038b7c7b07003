import { TurnContext, type Activity } from 'botbuilder';
import type { ConversationKind, ConversationRecord, Store } from '../src/store/index.js';

interface TeamsChannelData {
  team?: { id?: string; name?: string; aadGroupId?: string };
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

  // A channel conversation id carries ";messageid=…" for threads; the channel is the part before.
  const channelId =
    kind === 'channel' ? (data.channel?.id ?? conversation.id.split(';')[0]) : undefined;
  // Teams leaves out the General channel's name; its id is the team's id.
  const channelName =
    data.channel?.name ?? (channelId && channelId === data.team?.id ? 'General' : undefined);
  const reference = TurnContext.getConversationReference(activity) as unknown as Record<
    string,
    unknown
  >;
  // A channel is remembered as the channel, not as the thread this activity was in, so that
  // later posts (consent notices, recording cards) start new posts in it.
  if (kind === 'channel')
    reference.conversation = { ...(reference.conversation as object), id: channelId };
  return {
    _id: kind === 'channel' ? channelId! : conversation.id,
    kind,
    tenantId: conversation.tenantId ?? data.tenant?.id,
    teamId: data.team?.id,
    teamAadGroupId: data.team?.aadGroupId,
    teamName: data.team?.name,
    channelId,
    channelName,
    name: channelName ?? data.team?.name ?? conversation.name,
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
