import type { IndexDescription } from 'mongodb';

/** Collection names, in one place. */
export const Collections = {
  meetings: 'meetings',
  conversations: 'conversations',
  subscriptions: 'subscriptions',
  inbox: 'inbox',
  recordings: 'recordings',
  audit: 'audit',
  leases: 'leases',
  notices: 'notices',
  stats: 'stats',
  transcripts: 'transcripts',
  views: 'views',
} as const;
export type CollectionName = (typeof Collections)[keyof typeof Collections];

/**
 * Every index the app relies on. Unique keys carry idempotency (one meeting per scheduling
 * request, one inbox item per notification); TTL indexes expire finished work.
 */
export const INDEXES: Record<CollectionName, IndexDescription[]> = {
  meetings: [
    { key: { requestKey: 1 }, name: 'requestKey_unique', unique: true },
    {
      key: { onlineMeetingId: 1 },
      name: 'onlineMeetingId_unique',
      unique: true,
      partialFilterExpression: { onlineMeetingId: { $type: 'string' } },
    },
    { key: { joinWebUrl: 1 }, name: 'joinWebUrl' },
    { key: { organizerId: 1, startDateTime: -1 }, name: 'organizer_start' },
    { key: { 'class.conversationId': 1, startDateTime: -1 }, name: 'class_start' },
  ],
  conversations: [{ key: { teamId: 1, channelId: 1 }, name: 'team_channel' }],
  subscriptions: [
    { key: { resource: 1 }, name: 'resource' },
    { key: { expirationDateTime: 1 }, name: 'expiration' },
  ],
  inbox: [
    { key: { dedupeKey: 1 }, name: 'dedupeKey_unique', unique: true },
    { key: { status: 1, availableAt: 1 }, name: 'status_available' },
    { key: { status: 1, leaseUntil: 1 }, name: 'status_lease' },
    // Finished items carry expireAt; open ones never do, so they never expire.
    { key: { expireAt: 1 }, name: 'expireAt_ttl', expireAfterSeconds: 0 },
  ],
  recordings: [
    { key: { conversationId: 1, createdDateTime: -1 }, name: 'conversation_created' },
    { key: { onlineMeetingId: 1 }, name: 'onlineMeetingId' },
    { key: { meetingId: 1 }, name: 'meetingId' },
  ],
  audit: [
    { key: { at: -1 }, name: 'at' },
    { key: { meetingId: 1, at: -1 }, name: 'meeting_at' },
    { key: { action: 1, at: -1 }, name: 'action_at' },
  ],
  notices: [{ key: { meetingId: 1, at: 1 }, name: 'meeting_at' }],
  stats: [],
  transcripts: [
    { key: { meetingId: 1 }, name: 'meetingId' },
    { key: { conversationId: 1 }, name: 'conversationId' },
  ],
  // Play links live four hours; their view markers are garbage after a day.
  views: [{ key: { at: 1 }, name: 'at_ttl', expireAfterSeconds: 86_400 }],
  leases: [
    // A lease nobody renewed for a day is garbage.
    { key: { expiresAt: 1 }, name: 'expiresAt_ttl', expireAfterSeconds: 86_400 },
  ],
};
